-- Benchmark data: :patients patients, :doctors doctors, one link and one
-- conversation per patient, :messages messages each (the last 4 unread).
BEGIN;
CREATE TEMP TABLE bench_p AS
  WITH ins AS (INSERT INTO users (role, first_name, last_name, email)
               SELECT 'patient', 'Patient' || g, 'Bench' || g, 'bench-p' || g || '-' || :'tag' || '@example.test'
               FROM generate_series(1, :patients) g RETURNING id)
  SELECT id, row_number() OVER (ORDER BY id) AS i FROM ins;
CREATE TEMP TABLE bench_d AS
  WITH ins AS (INSERT INTO users (role, first_name, last_name, email)
               SELECT 'medecin', 'Docteur' || g, 'Bench' || g, 'bench-d' || g || '-' || :'tag' || '@example.test'
               FROM generate_series(1, :doctors) g RETURNING id)
  SELECT id, row_number() OVER (ORDER BY id) AS i FROM ins;
INSERT INTO patient_doctor (patient_id, doctor_id)
  SELECT p.id, d.id FROM bench_p p JOIN bench_d d ON d.i = 1 + (p.i - 1) % :doctors;
CREATE TEMP TABLE bench_c AS
  WITH ins AS (INSERT INTO conversations (patient_id, doctor_id)
               SELECT p.id, d.id FROM bench_p p JOIN bench_d d ON d.i = 1 + (p.i - 1) % :doctors
               RETURNING id, patient_id, doctor_id)
  SELECT * FROM ins;
INSERT INTO messages (conversation_id, sender_id, content, sent_at, is_read)
  SELECT c.id, CASE WHEN g % 2 = 1 THEN c.patient_id ELSE c.doctor_id END,
         'message ' || g || ' of conversation ' || c.id || ': the quick brown fox jumps over the lazy dog',
         now() - (:messages - g) * interval '1 second', g <= :messages - 4
  FROM bench_c c CROSS JOIN generate_series(1, :messages) g ORDER BY g, c.id;
UPDATE conversations SET last_message_at = now(), updated_at = now() WHERE id IN (SELECT id FROM bench_c);
-- "user_id conversation_id" for the token file, patients and doctors alike.
\pset format unaligned
\pset tuples_only on
\pset fieldsep ' '
\o :out
SELECT patient_id, id FROM bench_c UNION ALL SELECT doctor_id, min(id) FROM bench_c GROUP BY doctor_id;
\o
COMMIT;
-- Not the events table: analyzed empty, its plans would scan it whole once it grows.
ANALYZE users; ANALYZE patient_doctor; ANALYZE conversations; ANALYZE messages;
