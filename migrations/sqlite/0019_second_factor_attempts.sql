-- Wrong second-factor codes, counted where the factor lives so an attempt is reserved
-- atomically before its code is checked (parallel guesses cannot pass the limit), and the
-- growing lock-out they earn. A pending (password-only) session's wrong codes count too.
ALTER TABLE user_factors ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_factors ADD COLUMN strikes INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_factors ADD COLUMN locked_until INTEGER NOT NULL DEFAULT 0;
