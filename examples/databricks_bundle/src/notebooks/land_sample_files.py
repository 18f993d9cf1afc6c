# Databricks notebook source
# MAGIC %md
# MAGIC ## Land sample files
# MAGIC Drops a few batches of order files (CSV) and customer change records (JSON lines) into the
# MAGIC bundle's landing volume, as producers would. The pipelines pick them up incrementally.

# COMMAND ----------

dbutils.widgets.text("catalog", "main")
dbutils.widgets.text("schema", "sales")
dbutils.widgets.text("volume", "landing")
dbutils.widgets.text("batches", "2")
catalog, schema, volume = dbutils.widgets.get("catalog"), dbutils.widgets.get("schema"), dbutils.widgets.get("volume")
batches = int(dbutils.widgets.get("batches"))
landing = f"/Volumes/{catalog}/{schema}/{volume}"

# COMMAND ----------

# DBTITLE 1,Orders: five per batch, one with a bad amount (dropped by the pipeline's expectation)
for batch in range(batches):
    lines = ["order_id,customer_id,order_date,amount"]
    for i in range(5):
        order_id = batch * 5 + i + 1
        amount = -5 if i == 4 else 10 * (i + 1)
        lines.append(f"{order_id},{i % 3 + 1},2026-01-0{batch + 1},{amount}")
    dbutils.fs.put(f"{landing}/orders/orders_{batch:03d}.csv", "\n".join(lines) + "\n", overwrite=True)

# COMMAND ----------

# DBTITLE 1,Customer changes: the first batch creates three customers, later ones move one and add one without a name
import json

changes = [
    [
        {"customer_id": 1, "name": "Ada", "country": "FR", "operation": "UPSERT", "updated_at": 1},
        {"customer_id": 2, "name": "Bo", "country": "DE", "operation": "UPSERT", "updated_at": 1},
        {"customer_id": 3, "name": "Cy", "country": "US", "operation": "UPSERT", "updated_at": 1},
    ],
    [
        {"customer_id": 2, "name": "Bo", "country": "NL", "operation": "UPSERT", "updated_at": 2},
        {"customer_id": 4, "name": None, "country": "US", "operation": "UPSERT", "updated_at": 2},
    ],
]
for batch in range(min(batches, len(changes))):
    text = "".join(json.dumps(change) + "\n" for change in changes[batch])
    dbutils.fs.put(f"{landing}/customers/customers_{batch:03d}.json", text, overwrite=True)

print(f"landed {batches} batch(es) in {landing}")
dbutils.jobs.taskValues.set("batches", batches)
