-- Run once by the postgres image when its data volume is new (docker-entrypoint-initdb.d): one database per owning
-- service, each owned by nobody else's migrations. The migrate containers create a missing one as well, so a volume
-- made before a service existed still works.
CREATE DATABASE notify_notifications;
CREATE DATABASE notify_jobs;
CREATE DATABASE notify_delivery_sms;
CREATE DATABASE notify_delivery_email;
CREATE DATABASE notify_delivery_letter;
