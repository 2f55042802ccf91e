"""Direct delivery: the upstream PUTs the finished video into the user's bucket through a
presigned URL, and the task then checks that the object is there and is the video asked for.
The storage providers (Amazon, Google) are imported only when a task delivers."""
