"""Checks for the example ETL job, shipped as a wheel (python_wheel_task)."""
