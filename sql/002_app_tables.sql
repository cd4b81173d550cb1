-- 002: the two tables of the surrounding application (API.md section 2),
-- created only when absent. An existing application's tables are left as
-- they are (more columns are allowed). The bench fixtures insert into them
-- with plain INSERTs: users(role, first_name, last_name, email) and
-- patient_doctor(patient_id, doctor_id).

CREATE TABLE IF NOT EXISTS public.users (
  id         SERIAL PRIMARY KEY,
  role       TEXT NOT NULL CHECK (role IN ('patient', 'medecin')),
  first_name TEXT NOT NULL,
  last_name  TEXT NOT NULL,
  email      TEXT UNIQUE
);

CREATE TABLE IF NOT EXISTS public.patient_doctor (
  patient_id INTEGER NOT NULL REFERENCES public.users(id),
  doctor_id  INTEGER NOT NULL REFERENCES public.users(id),
  PRIMARY KEY (patient_id, doctor_id)
);
-- The primary key serves "doctors of a patient"; this one "patients of a doctor".
CREATE INDEX IF NOT EXISTS patient_doctor_doctor_id_idx ON public.patient_doctor (doctor_id);
