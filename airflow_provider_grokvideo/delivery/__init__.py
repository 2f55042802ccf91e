"""A finished video's ways into the user's storage.

- :mod:`.download`: the task downloads it from the upstream's URL into any ``ObjectStoragePath``
  (the download operator, the batch operator, the direct delivery's fallback);
- direct delivery: the upstream PUTs it into the user's bucket through a presigned URL
  (:mod:`.buckets`), and the task then checks that the object is there and is the video asked
  for (:mod:`.check`).  The storage providers (Amazon, Google) are imported only when a task
  delivers.
"""
