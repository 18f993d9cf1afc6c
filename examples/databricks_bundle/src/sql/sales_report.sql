-- Run by the job's `report` task (sql_task file). {{catalog}} and {{schema}} are job parameters.
USE CATALOG {{catalog}};
USE SCHEMA {{schema}};

CREATE OR REPLACE TABLE sales_by_country AS
SELECT c.country, count(*) AS orders, sum(o.amount) AS revenue
FROM orders o
JOIN current_customers c ON o.customer_id = c.customer_id
GROUP BY c.country;

SELECT * FROM sales_by_country ORDER BY country;
