-- Per-org IP allowlist: CIDR ranges, one per line; empty means no restriction.
ALTER TABLE orgs ADD COLUMN ip_allowlist TEXT NOT NULL DEFAULT '';
