"""Step 3 of the guide: licences. Closed-API models are refused as base or teacher; open licences are read
from the registry (:mod:`specc.plan.registry`) with their sources; unknown terms need an acknowledgement.

Every licence that shapes the result — the base model's, the teacher's and each training dataset's — is also
checked against ``goal.intended_use``: a non-commercial licence refuses a commercial plan (the clause is quoted),
and while the intended use is unstated such a licence is a warning that asks for it.
"""

from __future__ import annotations

from collections.abc import Sequence

from specc.plan.inputs import KnownModel
from specc.plan.model import DataFact
from specc.plan.trace import Trace
from specc.spec.language import Spec

__all__ = ["check_licences"]


def check_licences(spec: Spec, trains: bool, method: str, base: KnownModel, teacher: KnownModel | None,
                    t: Trace, data: Sequence[DataFact] = ()) -> dict[str, str]:
    """Fire licence rules; return a one-line verdict per model role for plan.models. ``data`` (the plan's data
    facts) carries the licence each Hub dataset's card states at the pinned commit."""
    from specc.plan.registry.lookup import closed_api_match, licence_info

    verdicts: dict[str, str] = {}
    _check_intended_use(spec, trains, method, base, teacher, t, data)
    if trains:
        closed = closed_api_match(base.ref.ref)
        if closed is not None:
            t.find("LICENCE-CLOSED-API-BASE",
                   f"base model {base.ref.ref} is a closed {closed.provider} API model: there are no weights to tune",
                   "pick an open-weight base model")
            verdicts["base"] = f"closed API ({closed.provider})"
        else:
            verdicts["base"] = _base_licence(base, t)
    if teacher is not None and method in ("distill", "none"):
        closed = closed_api_match(teacher.ref.ref)
        if closed is not None:
            t.find("LICENCE-CLOSED-API-TEACHER",
                   f"teacher {teacher.ref.ref} is a closed {closed.provider} model ({closed.pattern}): "
                   f"{closed.reason}. Source: {closed.source}",
                   "distil from an open-weight model whose licence allows training other models")
            verdicts["teacher"] = f"refused: closed API ({closed.provider})"
            return verdicts
        if method != "distill":
            return verdicts
        info = licence_info(teacher.licence) if teacher.licence else None
        if info is None:
            verdicts["teacher"] = _unknown_licence(teacher, "teacher", t)
        elif info.outputs_may_train_other_models == "yes":
            t.decide("LICENCE-PERMISSIVE", f"teacher licence {info.id}: {info.conditions} ({info.source})",
                     verdict="the teacher's licence allows training the student")
            verdicts["teacher"] = f"{info.id}: outputs may train other models"
        elif info.outputs_may_train_other_models == "conditions":
            t.find("LICENCE-TEACHER-CONDITIONS", f"teacher licence {info.id}: {info.conditions}",
                   f"read {info.source}")
            verdicts["teacher"] = f"{info.id}: allowed on conditions"
        else:
            student = licence_info(base.licence) if base.licence else None
            if student is not None and student.id == info.id:
                t.find("LICENCE-TEACHER-CONDITIONS",
                       f"teacher licence {info.id} forbids improving other models but the student is under the same "
                       f"licence (a derivative of the family): {info.conditions}", f"read {info.source}")
                verdicts["teacher"] = f"{info.id}: allowed for a {info.id} student only"
            else:
                t.find("LICENCE-TEACHER-FORBIDS-TRAINING",
                       f"teacher licence {info.id} forbids using outputs to improve student {base.ref.ref} "
                       f"({base.licence or 'licence unknown'}): {info.conditions}",
                       f"use a teacher whose licence allows it, or a student of the same family; see {info.source}")
                verdicts["teacher"] = f"refused: {info.id} outputs may not train other models"
    return verdicts


def _base_licence(base: KnownModel, t: Trace) -> str:
    from specc.plan.registry.lookup import licence_info

    info = licence_info(base.licence) if base.licence else None
    if info is None:
        return _unknown_licence(base, "base model", t)
    return f"{info.id}: fine-tuning allowed; outputs may train other models: {info.outputs_may_train_other_models}"


def _unknown_licence(model: KnownModel, role: str, t: Trace) -> str:
    what = f"licence {model.licence!r} is not in specc's registry" if model.licence else "licence is unknown"
    if model.ref.licence_acknowledged:
        t.find("LICENCE-ACKNOWLEDGED", f"{role} {model.ref.ref}: {what}; licence_acknowledged is true")
        return "unknown; acknowledged by the spec"
    t.find("LICENCE-UNKNOWN-NEEDS-ACK", f"{role} {model.ref.ref}: {what}",
           f"read the model's terms, then set licence_acknowledged: true under "
           f"{'teacher' if role == 'teacher' else 'base_model'}")
    return "unknown; not acknowledged"



def _dataset_subjects(spec: Spec, data: Sequence[DataFact], t: Trace) -> list[tuple[str, str | None, str]]:
    """``(what, licence, where it is stated)`` of every training dataset (each mixture member): the licence
    the spec declares, else the one its Hub dataset card states at the pinned commit. A Hub source whose card
    states no licence specc knows (and the spec declares none) is a note: only a person can read its terms."""
    from specc.plan.registry.lookup import licence_info
    from specc.spec.language import Mixture, members_of

    facts = {f.name: f for f in data}
    out: list[tuple[str, str | None, str]] = []
    for role in ("train", "preference", "prompts", "replay"):  # replay rows are trained on too
        entry = getattr(spec.data, role)
        for i, member in enumerate(members_of(entry)):  # one source, or each member of a mixture
            what = f"data.{role} dataset {member.where}"
            if member.licence:
                out.append((what, member.licence, ""))
                continue
            fact = facts.get(f"{role}[{i}]" if isinstance(entry, Mixture) else role)
            if member.hub is None or fact is None or not fact.licence_source:
                out.append((what, None, ""))
                continue
            card = fact.licence_source
            if fact.licence is None or licence_info(fact.licence) is None:
                said = (f"its dataset card states licence {fact.licence!r}, which is not in specc's registry"
                        if fact.licence else "its dataset card states no licence")
                t.find("LICENCE-DATASET-UNSTATED", f"{what}: {said} ({card})",
                       f"read the dataset's terms, then declare them with `licence:` on data.{role}"
                       + (f"[{i}]" if isinstance(entry, Mixture) else ""))
            out.append((what, fact.licence, f"; the {card}"))
    return out


def _check_intended_use(spec: Spec, trains: bool, method: str, base: KnownModel, teacher: KnownModel | None,
                        t: Trace, data: Sequence[DataFact] = ()) -> None:
    """Base, teacher and dataset licences against goal.intended_use (commercial, research, internal)."""
    from specc.plan.registry.lookup import licence_info

    if not trains:
        return
    use = spec.goal.intended_use
    subjects: list[tuple[str, str | None, str]] = [(f"base model {base.ref.ref}", base.licence, "")]
    if teacher is not None and method == "distill":
        subjects.append((f"teacher {teacher.ref.ref}", teacher.licence, ""))
    subjects.extend(_dataset_subjects(spec, data, t))
    for what, licence, stated in subjects:
        info = licence_info(licence) if licence else None
        if info is None:
            continue
        clause = f"{info.name}: \"{info.conditions}\" ({info.source}){stated}"
        if info.commercial_use is False:
            if use == "commercial":
                t.find("LICENCE-NONCOMMERCIAL-USE",
                       f"goal.intended_use is commercial but {what} is licensed {info.id}, which forbids it. {clause}",
                       "pick a model or dataset whose licence allows commercial use, or change goal.intended_use "
                       "if the model is not for a product")
            elif use == "internal":
                t.find("LICENCE-NONCOMMERCIAL-USE",
                       f"goal.intended_use is internal and {what} is licensed {info.id} (non-commercial only): use "
                       f"inside a business is usually commercial use. {clause}",
                       "have the terms read for your internal use, or pick a commercially licensed alternative",
                       level="warning")
            elif use == "research":
                t.decide("LICENCE-RESEARCH-USE",
                         f"goal.intended_use is research and {what} is licensed {info.id} (non-commercial): "
                         f"allowed for research. {clause}",
                         verdict="non-commercial licence accepted for research use")
            else:
                t.find("LICENCE-INTENDED-USE-UNSTATED",
                       f"{what} is licensed {info.id}, which forbids commercial use, and goal.intended_use is not "
                       f"stated. {clause}",
                       "set goal.intended_use (commercial, research or internal) so the plan can judge the licence")
        elif info.commercial_use == "conditions" and use == "commercial":
            t.find("LICENCE-COMMERCIAL-CONDITIONS",
                   f"goal.intended_use is commercial and {what} is licensed {info.id}, which allows it on "
                   f"conditions. {clause}", f"read {info.source}")
