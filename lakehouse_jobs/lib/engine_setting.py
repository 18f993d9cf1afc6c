"""The setting that picks a run's Spark engine, and the sentence that tells a user how to leave Sail.

A leaf (no imports): the SQL layer's refusals (`sql/delta_paths.py`, `sql/maintenance.py`) and the
runtime's (`runtime/sail.py`, `runtime/spark.py`) say the same words without importing each other.
"""

ENGINE_ENV = "LAKEHOUSE_ENGINE"  # sail | spark | auto, for every run of the process (runtime/spark.py)
ON_JVM = f'run it on the JVM engine: unset {ENGINE_ENV} or set SparkResource(engine="spark")'
