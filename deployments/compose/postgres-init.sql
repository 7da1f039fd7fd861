-- Runs once, when the PostgreSQL volume is empty: Prefect's database beside the application's.
CREATE DATABASE prefect;
CREATE DATABASE nastavnik;
