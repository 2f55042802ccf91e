"""Apache Airflow provider for Grok video generation (xcompute, Mountsea, xAI).

Kept free of imports: DAG files import the operators on every parse, and Airflow reads the
provider's metadata from :mod:`airflow_provider_grokvideo.get_provider_info`.
"""

__version__ = "0.1.0"
