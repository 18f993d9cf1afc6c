-- Customer change records from the landing volume, applied as an SCD type 2 dimension.
-- ${landing} is the pipeline's configuration value (resources/customers_pipeline.pipeline.yml).

CREATE OR REFRESH STREAMING TABLE customer_changes
COMMENT "Customer change records as they landed."
AS SELECT * FROM STREAM read_files('${landing}/customers', format => 'json');

CREATE OR REFRESH STREAMING TABLE customers
COMMENT "Every version of every customer (__START_AT / __END_AT).";

CREATE FLOW customers_scd2 AS AUTO CDC INTO customers
FROM STREAM(customer_changes)
KEYS (customer_id)
APPLY AS DELETE WHEN operation = 'DELETE'
SEQUENCE BY updated_at
COLUMNS * EXCEPT (operation, _rescued_data)
STORED AS SCD TYPE 2;

CREATE OR REFRESH MATERIALIZED VIEW current_customers (
  CONSTRAINT has_name EXPECT (name IS NOT NULL) ON VIOLATION DROP ROW
)
COMMENT "The current version of each named customer."
AS SELECT customer_id, name, country FROM customers WHERE __END_AT IS NULL;
