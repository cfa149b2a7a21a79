-- The directory's hot queries as the server builds them, with literal values, for EXPLAIN
-- on both backends. One query per line. `bench/directory.sh` fills the placeholders from
-- the seeded database (FLOCK: acme's id; AFTER_NAME/AFTER_ID: the 100th row by name;
-- AFTER_TIME: its creation time; IDS: 1000 ids of acme) and prefixes each line with the
-- backend's EXPLAIN.
SELECT id FROM users WHERE flock_id = {FLOCK} AND name_key >= 'an' AND name_key < 'ao' AND status <> 'deleted' ORDER BY name_key ASC, id ASC LIMIT 51;
SELECT id FROM users WHERE flock_id = {FLOCK} AND name_key >= 'a' AND name_key < 'b' AND status <> 'deleted' AND (name_key, id) > ({AFTER_NAME}, {AFTER_ID}) ORDER BY name_key ASC, id ASC LIMIT 51;
SELECT id FROM users WHERE flock_id = {FLOCK} AND status <> 'deleted' AND (created_at, id) > ({AFTER_TIME}, {AFTER_ID}) ORDER BY created_at ASC, id ASC LIMIT 51;
SELECT id FROM users WHERE flock_id = {FLOCK} AND email = 'u4242@acme.test';
SELECT id FROM users WHERE flock_id = {FLOCK} AND id IN ({IDS}) AND status NOT IN ('deleted', 'inactive') ORDER BY id ASC LIMIT 1001;
SELECT user_id FROM user_meta WHERE flock_id = {FLOCK} AND key = 'tier' AND value = 'gold' AND user_id > {AFTER_ID} ORDER BY value ASC, user_id ASC LIMIT 51;
SELECT id FROM users WHERE flock_id = {FLOCK} AND status <> 'deleted' AND EXISTS (SELECT 1 FROM user_meta WHERE user_meta.flock_id = {FLOCK} AND user_meta.user_id = users.id AND key = 'tier' AND value = 'gold') ORDER BY name_key ASC, id ASC LIMIT 51;
SELECT user_id FROM user_meta WHERE flock_id = {FLOCK} AND key = 'tier' AND (value, user_id) > ('bronze', {AFTER_ID}) ORDER BY value ASC, user_id ASC LIMIT 51;
SELECT id FROM users WHERE flock_id = {FLOCK} AND role = 'manager' LIMIT 2001;
SELECT user_id FROM group_members WHERE flock_id = {FLOCK} AND group_id = {FLOCK} LIMIT 2001;
SELECT id, created_at, name_key FROM users WHERE flock_id = {FLOCK} AND id IN ({IDS}) AND status <> 'deleted' AND role = 'manager';
