"""The provider's Airflow plugin: the "Grok videos" page (``grok_videos.py``)."""
