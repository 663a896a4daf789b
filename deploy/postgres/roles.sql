-- The database's two roles, run by a superuser with psql 15 or later (\getenv); idempotent, so every start can
-- run it again. Used by deploy/postgres/bin/pg-start (the dev cluster) and by the compose PostgreSQL's init.
--   offerflow_owner  owns database offerflow and its schema; runs the migrations (DDL). CREATEDB so that tests
--                    can make throw-away databases; no superuser, no role management.
--   offerflow_app    what the services connect as: DML on the owner's tables, temporary tables (the status
--                    API stages writes in them), nothing else: no DDL, no server files, no programs.
-- Passwords come from the environment (never from this file): OFFERFLOW_PG_OWNER_PASSWORD, OFFERFLOW_PG_APP_PASSWORD.
\set ON_ERROR_STOP on
\getenv owner_password OFFERFLOW_PG_OWNER_PASSWORD
\getenv app_password OFFERFLOW_PG_APP_PASSWORD
\if :{?owner_password}
\else
  SELECT 'roles.sql: OFFERFLOW_PG_OWNER_PASSWORD is not set'::int;
\endif
\if :{?app_password}
\else
  SELECT 'roles.sql: OFFERFLOW_PG_APP_PASSWORD is not set'::int;
\endif
SET password_encryption = 'scram-sha-256';

SELECT 'CREATE ROLE offerflow_owner' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'offerflow_owner') \gexec
SELECT 'CREATE ROLE offerflow_app' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'offerflow_app') \gexec
ALTER ROLE offerflow_owner WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'owner_password';
ALTER ROLE offerflow_app WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';
-- No inherited powers either (pg_read_server_files, pg_execute_server_program, pg_write_server_files, …).
SELECT format('REVOKE %I FROM offerflow_app', r.rolname)
  FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid
 WHERE m.member = 'offerflow_app'::regrole \gexec

SELECT 'CREATE DATABASE offerflow OWNER offerflow_owner'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'offerflow') \gexec
ALTER DATABASE offerflow OWNER TO offerflow_owner;
-- Only the two roles reach the database; the app may connect and use temporary tables, never create schemas.
REVOKE ALL ON DATABASE offerflow FROM PUBLIC;
GRANT CONNECT, TEMPORARY ON DATABASE offerflow TO offerflow_app;

\connect offerflow
-- A cluster of an older checkout: role `offerflow` (password `offerflow`, known to anyone) owned everything.
-- Its objects go to the owner and it can no longer log in.
-- (Not when `offerflow` is the superuser, as in an older compose volume: that one stays the operators' login.)
SELECT 'REASSIGN OWNED BY offerflow TO offerflow_owner'
 WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = 'offerflow' AND NOT rolsuper) \gexec
SELECT 'ALTER ROLE offerflow WITH NOLOGIN NOCREATEDB PASSWORD NULL'
 WHERE EXISTS (SELECT FROM pg_roles WHERE rolname = 'offerflow' AND NOT rolsuper) \gexec

-- The public schema belongs to the database owner (pg_database_owner); nobody else creates objects in it.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO offerflow_app;
-- Tables the owner made before (an existing database) and every one it makes from now on (the migrations).
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO offerflow_app;
GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO offerflow_app;
ALTER DEFAULT PRIVILEGES FOR ROLE offerflow_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO offerflow_app;
ALTER DEFAULT PRIVILEGES FOR ROLE offerflow_owner IN SCHEMA public
  GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO offerflow_app;
