"""The provider's Airflow plugin: the "Grok videos" page (``grok_videos.py``).

Only the page's address here: the task links (``tasks/links.py``, imported at DAG parse), the
plugin (``grok_videos.py``, imported at every task start) and its app (``app.py``, on the API
server) all read it from this light module.
"""

#: Where the API server mounts the page's app.
URL_PREFIX = "/grokvideo"
