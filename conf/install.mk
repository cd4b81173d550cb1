# `make install` and the operator's tests (`make test-ops`). Included by the
# top Makefile, which defines PREFIX (default /usr/local) and DESTDIR.
#
#   make install [PREFIX=/usr/local] [DESTDIR=/tmp/stage] [SYSCONFDIR=/etc]
#
# What goes where (see docs/operations.md, "Install"):
#   $(PREFIX)/bin/                      messaging-api, messaging-gateway, msg-token, msgctl
#   $(PREFIX)/share/messaging/sql/      the migrations and sql/api; scripts/migrate.sh beside them
#   $(PREFIX)/share/messaging/web/      the web client (the sites' document root)
#   $(PREFIX)/share/messaging/conf/     messaging.conf, nginx/, apache/, systemd/ (examples)
#   $(PREFIX)/share/man/man1/           messaging-api.1, messaging-gateway.1, msgctl.1
#   $(PREFIX)/share/doc/messaging/      operations.md
#   $(SYSTEMDUNITDIR)                   the units (default $(PREFIX)/lib/systemd/system)
#   $(SYSUSERSDIR)/messaging.conf       the `messaging` system user (systemd-sysusers)
#   $(SYSCONFDIR)/messaging/messaging.conf  only when absent: never overwritten
# Paths written in the installed units, sites and msgctl follow PREFIX and
# SYSCONFDIR. Nothing is started, enabled or created outside these files.

SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
INSTALL        ?= install

I_BIN   := $(DESTDIR)$(PREFIX)/bin
I_SHARE := $(DESTDIR)$(PREFIX)/share/messaging
I_MAN   := $(DESTDIR)$(PREFIX)/share/man/man1
I_DOC   := $(DESTDIR)$(PREFIX)/share/doc/messaging
I_ETC   := $(DESTDIR)$(SYSCONFDIR)/messaging
# Installed copies name the installed paths.
I_SED   := sed -e 's|/usr/local/|$(PREFIX)/|g' -e 's|/etc/messaging/|$(SYSCONFDIR)/messaging/|g'

.PHONY: install
install: all
	@test "$(VARIANT)" = release || { echo "install: release builds only (VARIANT=release)" >&2; exit 1; }
	$(INSTALL) -d $(I_BIN) $(I_SHARE)/sql $(I_SHARE)/scripts $(I_SHARE)/web \
	    $(I_SHARE)/conf/nginx $(I_SHARE)/conf/apache/errors $(I_SHARE)/conf/systemd \
	    $(I_MAN) $(I_DOC) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) $(I_ETC)
	$(INSTALL) -m 0755 fcgi-api/messaging-api ws-gateway/messaging-gateway tools/msg-token $(I_BIN)/
	sed -e 's|^MSGCTL_SYSCONFDIR=.*|MSGCTL_SYSCONFDIR=$(SYSCONFDIR)|' scripts/msgctl >$(I_BIN)/msgctl
	chmod 0755 $(I_BIN)/msgctl
	$(INSTALL) -m 0644 sql/[0-9]*.sql $(I_SHARE)/sql/
	$(INSTALL) -d $(I_SHARE)/sql/api
	$(INSTALL) -m 0644 sql/api/*.sql $(I_SHARE)/sql/api/
	$(INSTALL) -m 0755 scripts/migrate.sh $(I_SHARE)/scripts/
	cp -R web/. $(I_SHARE)/web/
	chmod -R u=rwX,go=rX $(I_SHARE)/web
	$(INSTALL) -m 0644 conf/messaging.conf $(I_SHARE)/conf/
	for f in conf/nginx/messaging.conf conf/apache/messaging.conf; do \
	    $(I_SED) $$f >$(I_SHARE)/$$f && chmod 0644 $(I_SHARE)/$$f || exit 1; done
	$(INSTALL) -m 0644 conf/apache/errors/*.json $(I_SHARE)/conf/apache/errors/
	for f in conf/systemd/*.socket conf/systemd/*.service conf/systemd/*.target; do \
	    $(I_SED) $$f >$(I_SHARE)/$$f && chmod 0644 $(I_SHARE)/$$f || exit 1; \
	    $(INSTALL) -m 0644 $(I_SHARE)/$$f $(DESTDIR)$(SYSTEMDUNITDIR)/ || exit 1; done
	$(INSTALL) -m 0644 conf/systemd/messaging.sysusers $(I_SHARE)/conf/systemd/
	$(INSTALL) -m 0644 conf/systemd/messaging.sysusers $(DESTDIR)$(SYSUSERSDIR)/messaging.conf
	for f in docs/man/*.1; do $(I_SED) $$f >$(I_MAN)/$${f##*/} && chmod 0644 $(I_MAN)/$${f##*/} || exit 1; done
	$(I_SED) docs/operations.md >$(I_DOC)/operations.md && chmod 0644 $(I_DOC)/operations.md
	@# The live configuration: created once, then the administrator's.
	@if [ -e $(I_ETC)/messaging.conf ]; then \
	    echo "install: $(I_ETC)/messaging.conf exists, left as it is"; \
	else \
	    $(INSTALL) -m 0640 conf/messaging.conf $(I_ETC)/messaging.conf && \
	    { chgrp messaging $(I_ETC)/messaging.conf 2>/dev/null || \
	      echo "install: no group 'messaging' yet: run systemd-sysusers, then chgrp messaging $(SYSCONFDIR)/messaging/messaging.conf"; }; \
	fi

# The operator's side: units, sites, msgctl, make install, reloads
# (t/ops/run.sh). Built programs are under $(B).
test-ops:: $(API_BIN) $(TOKEN_BIN) gateway
	@t/ops/run.sh $(B)

# `make deb`: a Debian package built with Debian's own tools (debian/,
# dpkg-buildpackage and debhelper) from a copy of the checkout's files in
# build/deb/src, so that the .deb lands in build/deb/ and nothing is written
# beside the checkout. Installs what it needs when missing (scripts/deps.sh --deb).
DEB_DIR := build/deb
.PHONY: deb
deb:
	@command -v dpkg-buildpackage >/dev/null && dpkg-query -W -f='$${Status}' debhelper 2>/dev/null | grep -q 'ok installed' || \
	    scripts/deps.sh --deb
	@rm -rf $(DEB_DIR); mkdir -p $(DEB_DIR)/src
	@if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then git ls-files -co --exclude-standard; \
	 else find . \( -path ./build -o -path ./var -o -path ./.git -o -name node_modules \) -prune -o -type f -print; fi | \
	    tar --ignore-failed-read -cf - -T - 2>/dev/null | tar -xf - -C $(DEB_DIR)/src
	cd $(DEB_DIR)/src && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL DEB_BUILD_OPTIONS="parallel=$$(nproc) $${DEB_BUILD_OPTIONS:-}" \
	    dpkg-buildpackage -b -us -uc >../build.log 2>&1 || { tail -n 40 ../build.log >&2; exit 1; }
	@ls $(DEB_DIR)/*.deb | sed 's|^|deb: |'
