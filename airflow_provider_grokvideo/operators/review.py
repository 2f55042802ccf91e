"""A person approves the videos that go on: :class:`GrokVideoReviewOperator`.

An Airflow human-in-the-loop task (the standard provider's ``HITLOperator``, Airflow 3.1+): it
shows the reviewer each finished candidate of an upstream task (a wait's or a download's output,
mapped or not) with its prompt, duration, cost and a link that plays it on the "Grok videos"
page, in Airflow's own "Required actions" form (or its REST API); the task waits, without a
worker, until someone answers or ``response_timeout`` passes.  It returns the approved ones in
the input's shape, so a download, an edit, an extension or a publish task follows.

Imported only by DAG files that use it: the standard provider's HITL module is not loaded by
the other operators.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from airflow.sdk import BaseOperator, Param

from airflow_provider_grokvideo.compat import AirflowException

try:
    from airflow.providers.standard.operators.hitl import HITLOperator

    _MISSING: str | None = None
except Exception:  # ImportError, or the provider's "needs Airflow 3.1+" refusal
    HITLOperator = BaseOperator  # type: ignore[assignment,misc]
    _MISSING = (
        "GrokVideoReviewOperator needs Airflow 3.1 or later with the standard provider's "
        "human-in-the-loop operators (airflow.providers.standard.operators.hitl), which this "
        "installation does not have"
    )

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_provider_grokvideo.tasks.review import Candidate, Shape

#: The XCom key of the review's candidates (option -> generation), read by the "Grok videos"
#: page beside Airflow's own record of the answer (who, when, what).
REVIEW_XCOM_KEY = "grokvideo_review"
NOTE_PARAM = "note"
INTRO = "Watch each candidate (the link plays it), then approve {what}."


class GrokVideoReviewOperator(HITLOperator):  # type: ignore[misc,valid-type]
    """Ask a person which of an upstream task's finished videos go on.

    :param generations: the upstream's output (templated; ``wait.output``, ``download.output``,
        mapped or not).
    :param approve: ``"any"`` (a subset: several, one, or "None of them") or ``"one"`` (one, or
        "None of them").
    :param subject: the form's headline (templated).
    :param body: more words for the reviewer, shown above the candidates (Markdown, templated).
    :param response_timeout: how long to wait for an answer (``HITLOperator``'s); then
        ``defaults`` is taken, or the task fails without one.
    :param defaults: what a timeout answers: ``"None of them"`` (approve nothing) or ``None``
        (the task fails, as ``HITLOperator``'s default).
    :param kwargs: ``HITLOperator``'s (``notifiers``, ``assigned_users``...) and
        ``BaseOperator``'s.

    Returns the approved generations in the input's shape: a list for a list (empty when none
    is approved: a task mapped over it is skipped), else the one approved (a single rejected
    candidate skips the downstream tasks).  The reviewer's note is logged and in the task's
    ``hitl`` record; who answered and when are Airflow's own record, shown on the page.
    """

    template_fields: Sequence[str] = ("subject", "body", "generations")
    ui_color = "#fdf0c2"

    def __init__(
        self,
        *,
        generations: Any,
        approve: Literal["any", "one"] = "any",
        subject: str = "Which Grok videos go on?",
        body: str | None = None,
        defaults: str | list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        if _MISSING is not None:
            raise AirflowException(_MISSING)
        from airflow_provider_grokvideo.tasks.review import NONE_OPTION

        if approve not in ("any", "one"):
            raise ValueError(f'approve must be "any" or "one", not {approve!r}')
        kwargs.setdefault(
            "params",
            {NOTE_PARAM: Param("", type=["string", "null"], description="A note (optional).")},
        )
        super().__init__(
            subject=subject,
            options=[NONE_OPTION],  # the candidates are known when the task runs
            body=body,
            defaults=defaults,
            multiple=approve == "any",
            **kwargs,
        )
        self.generations = generations
        self.approve = approve

    def execute(self, context: Context) -> Any:
        from airflow_provider_grokvideo.tasks.review import output_of

        shape, candidates = self._candidates(context)
        if not candidates:
            self.log.info("Nothing to review: the upstream finished no video")
            return output_of(shape, [])
        self._ask_about(candidates)
        context["ti"].xcom_push(
            key=REVIEW_XCOM_KEY,
            value={
                "candidates": [
                    {"option": c.label, "generation_id": c.generation_id} for c in candidates
                ]
            },
        )
        self.log.info(
            "Asking for a review of %d candidate(s): %s",
            len(candidates),
            "; ".join(c.label for c in candidates),
        )
        return super().execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        from airflow_provider_grokvideo.compat import AirflowSkipException
        from airflow_provider_grokvideo.tasks.review import approved_of, output_of

        shape, candidates = self._candidates(context)  # the same input, rendered again
        self._ask_about(candidates)
        answer = super().execute_complete(context, event)
        try:
            approved = approved_of(candidates, answer["chosen_options"])
        except ValueError as exc:
            raise AirflowException(str(exc)) from exc
        who = answer.get("responded_by_user") or {}
        note = (answer.get("params_input") or {}).get(NOTE_PARAM)
        self.log.info(
            "%s approved %d of %d: %s%s",
            who.get("name") or "the default (no answer in time)",
            len(approved),
            len(candidates),
            "; ".join(c.label for c in approved) or "none",
            f" (note: {note})" if note else "",
        )
        result = output_of(shape, approved)
        if shape == "one" and result is None:
            raise AirflowSkipException("the reviewer approved none: the next tasks are skipped")
        return result

    # -- the candidates ---------------------------------------------------------------------
    def _candidates(self, context: Context) -> tuple[Shape, list[Candidate]]:
        from airflow_provider_grokvideo.tasks.links import configured_page_link
        from airflow_provider_grokvideo.tasks.review import candidates_from

        ti = context["ti"]

        def link(generation_id: str | None) -> str | None:
            return configured_page_link(ti.dag_id, ti.run_id, generation_id)

        return candidates_from(self._as_value(self.generations), self._records(ti), link)

    def _records(self, ti: Any) -> list[Any]:
        """The ``grokvideo`` records of the run's upstream tasks (their prompts, costs and
        stored copies), one API call per upstream task."""
        from airflow_provider_grokvideo.tasks.catalog import XCOM_KEY

        upstream = sorted(self.get_flat_relative_ids(upstream=True))
        if not upstream:
            return []
        pulled = ti.xcom_pull(task_ids=upstream, key=XCOM_KEY)
        return [record for record in _flat(pulled) if isinstance(record, dict)]

    @staticmethod
    def _as_value(value: Any) -> Any:
        """A rendered template of a list or dict arrives as text: read it back."""
        import ast
        import json

        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return ast.literal_eval(value)
        if not isinstance(value, (dict, list, tuple, str)) and hasattr(value, "__iter__"):
            return list(value)  # a mapped task's lazy sequence of outputs
        return value

    def _ask_about(self, candidates: list[Candidate]) -> None:
        from airflow_provider_grokvideo.tasks.review import options_of

        self.options = options_of(candidates)
        what = "the ones to keep" if self.multiple else "one"
        parts = [self._own_body] if self._own_body else []
        parts.append(INTRO.format(what=what))
        parts += [c.markdown() for c in candidates]
        self.body = "\n\n---\n\n".join(parts)
        self.validate_options()
        self.validate_defaults()

    @property
    def _own_body(self) -> str | None:
        if not hasattr(self, "_given_body"):
            self._given_body = self.body
        return self._given_body


def _flat(value: Any) -> list[Any]:
    if isinstance(value, dict) or value is None:
        return [value]
    if isinstance(value, (list, tuple)):
        return [item for element in value for item in _flat(element)]
    return [value]
