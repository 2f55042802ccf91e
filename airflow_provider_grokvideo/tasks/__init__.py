"""What the provider's tasks share: the operators (``operators/``) and the sensor
(``sensors/``) are thin classes over these pieces.

- :mod:`.submit`: one try's submit (reattach, refuse, replay or submit, with failover);
- :mod:`.submit_record`: the durable submit record (never a video paid twice);
- :mod:`.wait`: the wait for a generation (check before deferring, the deferral, its outcome,
  the connection that made it);
- :mod:`.failover`: which failed submits surely created no job (another connection may be tried);
- :mod:`.costs`: the cost estimate and the price cap before a submit, the cost in the result;
- :mod:`.catalog`: the small XCom records the "Grok videos" page reads;
- :mod:`.links`: the tasks' extra links to their video;
- :mod:`.rendered`: what an operator's templated argument rendered to.
"""
