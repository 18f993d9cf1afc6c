-- sql_task: one summary row per run, from the gold table.
CREATE TABLE IF NOT EXISTS delta.`${lakehouse_root}/gold/etl_run_summary` (run_date STRING, days BIGINT, revenue DECIMAL(20, 2));

DELETE FROM delta.`${lakehouse_root}/gold/etl_run_summary` WHERE run_date = :run_date;

INSERT INTO delta.`${lakehouse_root}/gold/etl_run_summary`
SELECT :run_date, count(*), sum(revenue) FROM delta.`${lakehouse_root}/gold/etl_daily_revenue`;
