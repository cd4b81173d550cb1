# Browser tests of the web client (web/): web/messagingSocket.js from Node,
# then the demo page in headless Chromium (Debian's `chromium`, driven by
# playwright-core), against a private stack started from $(B).
# Included by the top Makefile; `make test` runs `make VARIANT=san test-browser`.
# Writes build/test-results/browser.txt; screenshots go to build/browser-shots/.

test-browser:: $(API_BIN) $(TOKEN_BIN) gateway
	@t/browser/run.sh $(B)
