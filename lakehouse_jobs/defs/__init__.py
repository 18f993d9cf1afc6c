"""The example lakehouse (orders, clickstream, customers) built on lakehouse_jobs.lib."""
