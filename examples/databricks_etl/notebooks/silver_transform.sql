-- Databricks notebook source
-- MAGIC %md
-- MAGIC ## Silver: typed, deduplicated orders
-- MAGIC Unparsable values become NULL (`try_cast`) and those rows are dropped; a re-sent order keeps its latest version.

-- COMMAND ----------

CREATE OR REPLACE TEMP VIEW typed_orders AS
SELECT
  try_cast(order_id AS BIGINT) AS order_id,
  try_cast(customer_id AS BIGINT) AS customer_id,
  try_cast(order_ts AS TIMESTAMP) AS order_ts,
  product_id,
  try_cast(quantity AS INT) AS quantity,
  try_cast(unit_price AS DECIMAL(10, 2)) AS unit_price,
  lower(status) AS status
FROM delta.`${lakehouse_root}/bronze/etl_orders`

-- COMMAND ----------

CREATE OR REPLACE TABLE delta.`${lakehouse_root}/silver/etl_orders` AS
SELECT order_id, customer_id, order_ts, to_date(order_ts) AS order_date, product_id, quantity, unit_price,
       quantity * unit_price AS amount, status
FROM typed_orders
WHERE order_id IS NOT NULL AND order_ts IS NOT NULL AND quantity IS NOT NULL AND unit_price IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY order_id ORDER BY order_ts DESC) = 1

-- COMMAND ----------

SELECT count(*) AS silver_rows FROM delta.`${lakehouse_root}/silver/etl_orders`
