-- Demo data for `make run`: a few patients and doctors with French names
-- (accents included), some of them linked, two conversations with messages
-- (one of them closed). Inserted only into an empty users table: running it
-- again, or on a database with real users, changes nothing.
--   psql -X -v ON_ERROR_STOP=1 -d DATABASE_URL -f scripts/seed.sql
-- Messages are inserted directly (history), so they produce no events.

DO $seed$
DECLARE
  helene int; zoe int; frederic int; anais int;      -- patients
  elise int; jerome int; benoit int;                 -- doctors ("medecin")
  c1 int; c2 int;
BEGIN
  -- Serialise two concurrent seeders; the emptiness check below then holds.
  PERFORM pg_advisory_xact_lock(hashtext('messaging.seed'));
  IF EXISTS (SELECT 1 FROM public.users) THEN
    RAISE NOTICE 'seed: users is not empty, nothing inserted';
    RETURN;
  END IF;

  INSERT INTO public.users (role, first_name, last_name, email) VALUES
    ('patient', 'Hélène',    'Dubois',   'helene.dubois@example.org')   RETURNING id INTO helene;
  INSERT INTO public.users (role, first_name, last_name, email) VALUES
    ('patient', 'Zoé',       'Lefèvre',  'zoe.lefevre@example.org')     RETURNING id INTO zoe;
  INSERT INTO public.users (role, first_name, last_name, email) VALUES
    ('patient', 'Frédéric',  'Noël',     'frederic.noel@example.org')   RETURNING id INTO frederic;
  INSERT INTO public.users (role, first_name, last_name, email) VALUES
    ('patient', 'Anaïs',     'Bézier',   'anais.bezier@example.org')    RETURNING id INTO anais;
  INSERT INTO public.users (role, first_name, last_name, email) VALUES
    ('medecin', 'Élise',     'Martin',   'elise.martin@example.org')    RETURNING id INTO elise;
  INSERT INTO public.users (role, first_name, last_name, email) VALUES
    ('medecin', 'Jérôme',    'Caron',    'jerome.caron@example.org')    RETURNING id INTO jerome;
  INSERT INTO public.users (role, first_name, last_name, email) VALUES
    ('medecin', 'Benoît',    'Rousseau', 'benoit.rousseau@example.org') RETURNING id INTO benoit;

  -- Not every pair: Zoé sees Élise only, Benoît sees Frédéric and Anaïs.
  INSERT INTO public.patient_doctor (patient_id, doctor_id) VALUES
    (helene, elise), (helene, jerome),
    (zoe, elise),
    (frederic, jerome), (frederic, benoit),
    (anais, benoit);

  INSERT INTO public.conversations (patient_id, doctor_id, status, created_at, updated_at, last_message_at)
  VALUES (helene, elise, 'active', now() - interval '2 days', now() - interval '1 hour', now() - interval '1 hour')
  RETURNING id INTO c1;
  INSERT INTO public.conversations (patient_id, doctor_id, status, created_at, updated_at, last_message_at)
  VALUES (frederic, jerome, 'closed', now() - interval '10 days', now() - interval '9 days', now() - interval '9 days')
  RETURNING id INTO c2;

  INSERT INTO public.messages (conversation_id, sender_id, content, sent_at, is_read) VALUES
    (c1, helene, 'Bonjour docteur, j''ai toujours de la fièvre depuis hier soir.', now() - interval '2 days', true),
    (c1, elise,  'Bonjour Hélène. Quelle température avez-vous relevée ?',        now() - interval '47 hours', true),
    (c1, helene, '38,7 °C ce matin, et des courbatures.',                        now() - interval '46 hours', true),
    (c1, elise,  'Reposez-vous et hydratez-vous bien. Je vous vois demain à 9 h.', now() - interval '1 hour', false),
    (c2, frederic, 'Merci pour l''ordonnance, tout va mieux.',                   now() - interval '10 days', true),
    (c2, jerome,   'Très bien, je clôture cette conversation. Bonne continuation !', now() - interval '9 days', true);

  RAISE NOTICE 'seed: 4 patients, 3 doctors, 6 links, 2 conversations, 6 messages';
END
$seed$;
