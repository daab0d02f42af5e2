"""Synthetic clinical notes with known PHI spans, for measuring the scrubber.

Templates are filled with `faker` values (fixed seed, so a seed names a data set).
Every value's character span is recorded as it is inserted, so the gold spans are exact.
Nothing here is real patient data.
"""
from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass

from faker import Faker


@dataclass(frozen=True)
class GoldSpan:
    start: int
    end: int
    entity_type: str


@dataclass(frozen=True)
class SyntheticNote:
    text: str
    spans: tuple[GoldSpan, ...]


# Field name -> entity type. Fields with the same name in one note get the same value,
# so a note can mention a patient by full name and later by surname.
FIELD_TYPES = {
    "patient": "PERSON", "patient_first": "PERSON", "patient_last": "PERSON", "doctor": "PERSON",
    "doctor_last": "PERSON", "relative": "PERSON", "visitor": "PERSON",
    "mrn": "MRN", "dob": "DATE", "date": "DATE", "date2": "DATE", "phone": "PHONE", "fax": "PHONE",
    "email": "EMAIL", "ssn": "SSN", "street": "ADDRESS", "cityline": "ADDRESS", "pobox": "ADDRESS",
    "age": "AGE",
}

TEMPLATES = (
    "Patient: {patient}\nMRN: {mrn}\nDOB: {dob}\nAddress: {street}\n{cityline}\nPhone: {phone}\n"
    "Chief complaint: chest pain for 2 days. BP 142/88, HR 96, SpO2 97% on room air.",
    "Pt {patient} is a {age} woman admitted on {date} with community-acquired pneumonia. "
    "Started ceftriaxone 1 g IV q24h and azithromycin 500 mg. Mrs. {patient_last} tolerated it well.",
    "Discharge summary for {patient} (MR# {mrn}), seen {date}. Follow up with Dr. {doctor_last} "
    "in 2 weeks; call {phone} or fax {fax} with questions. HbA1c 7.2%, eGFR 54.",
    "Referral: {doctor}, MD requests cardiology review of {patient}, DOB {dob}, medical record number {mrn}. "
    "Echo on {date2} showed EF 35%. Contact: {email}.",
    "Social: lives alone at {street}, {cityline}. Daughter {relative} visits weekly (tel {phone}). "
    "Patient is {age}, ambulates with a walker, takes metoprolol 25 mg twice daily.",
    "Registration: Name: {patient}; SSN {ssn}; DOB {dob}; mailing address {pobox}, {cityline}; "
    "email {email}; emergency contact {relative} at {phone}.",
    "{date}: Mr. {patient} ({age}) reports 3/10 pain after the right hip arthroplasty. "
    "Chart {mrn}. Plan: paracetamol 1 g q6h, physiotherapy, review on {date2}.",
    "Signed,\n{doctor}\nFax {fax} | Phone {phone}\nNote written {date} for patient {patient_first} {patient_last}, "
    "account number {mrn}.",
    "Question from {doctor_last}: what is the warfarin dose for {patient}, {age}, INR 3.4 on {date}? "
    "Pager {phone}. SSN on file: {ssn}.",
    "Visited by {visitor} on {date}. {patient} was seen by Dr. {doctor} for COPD exacerbation; "
    "prednisolone 40 mg for 5 days, salbutamol 2.5 mg nebulised.",
)


def _date_formats() -> tuple[Callable[[Faker], str], ...]:
    return (
        lambda f: f.date_of_birth(minimum_age=1, maximum_age=100).strftime("%m/%d/%Y"),
        lambda f: f.date_between("-30y", "today").strftime("%Y-%m-%d"),
        lambda f: f.date_between("-30y", "today").strftime("%B %d, %Y"),
        lambda f: f.date_between("-30y", "today").strftime("%d %b %Y"),
        lambda f: f.date_between("-30y", "today").strftime("%-m/%-d/%y"),
        lambda f: f.date_between("-30y", "today").strftime("%b %d"),
        lambda f: f.date_between("-30y", "today").strftime("%d-%b-%Y"),
        lambda f: f.date_between("-30y", "today").strftime("%d.%m.%Y"),
    )


def _value(field: str, f: Faker) -> str:
    r = f.random
    if field in ("patient", "doctor", "relative", "visitor"):
        middle = f" {f.random_uppercase_letter()}." if r.random() < 0.2 else ""
        return f"{f.first_name()}{middle} {f.last_name()}"
    if field in ("patient_first",):
        return f.first_name()
    if field in ("patient_last", "doctor_last"):
        return f.last_name()
    if field == "mrn":
        return str(r.randint(0, 10 ** 8 - 1)).zfill(r.choice((6, 7, 8, 9, 10)))
    if field in ("dob", "date", "date2"):
        return r.choice(_date_formats())(f)
    if field in ("phone", "fax"):
        return f.phone_number()
    if field == "email":
        return f.email()
    if field == "ssn":
        return f.ssn()
    if field == "street":
        return f.street_address()
    if field == "cityline":
        return f"{f.city()}, {f.state_abbr()} {f.zipcode()}"
    if field == "pobox":
        return f"PO Box {r.randint(1, 99999)}"
    if field == "age":
        n = r.randint(90, 109)
        return r.choice((f"{n}-year-old", f"age {n}", f"aged {n}", f"{n} yo", f"{n} years old"))
    raise KeyError(field)


def generate_notes(n: int, seed: int = 0) -> list[SyntheticNote]:
    """`n` notes cycling through the templates; the same seed gives the same notes."""
    f = Faker("en_US")
    f.seed_instance(seed)
    notes = []
    for i in range(n):
        template = TEMPLATES[i % len(TEMPLATES)]
        values: dict[str, str] = {}
        parts: list[str] = []
        spans: list[GoldSpan] = []
        pos = 0
        for literal, field, _, _ in string.Formatter().parse(template):
            parts.append(literal)
            pos += len(literal)
            if field is None:
                continue
            if field not in values:
                values[field] = _value(field, f)
                if field == "patient":  # the later surname/first-name mentions refer to this patient
                    values["patient_first"], values["patient_last"] = values[field].split()[0], values[field].split()[-1]
                if field == "doctor":
                    values["doctor_last"] = values[field].split()[-1]
            value = values[field]
            parts.append(value)
            spans.append(GoldSpan(pos, pos + len(value), FIELD_TYPES[field]))
            pos += len(value)
        notes.append(SyntheticNote("".join(parts), tuple(spans)))
    return notes


@dataclass(frozen=True)
class TypeScore:
    """Span-overlap scores for one entity type.

    recall: gold spans overlapped by a prediction of the same type.
    masked: gold spans overlapped by any prediction (what matters for privacy: it was removed).
    precision: predictions that overlap a gold span of the same type.
    """

    entity_type: str
    gold: int
    predicted: int
    recall: float
    masked: float
    precision: float


def evaluate(find: Callable[[str], list], notes: list[SyntheticNote]) -> dict[str, TypeScore]:
    """Score `find(text) -> spans` (objects with start, end, entity_type) on `notes`."""
    counts: dict[str, list[int]] = {}  # type -> [gold, hit, masked, predicted, correct]

    def c(t: str) -> list[int]:
        return counts.setdefault(t, [0, 0, 0, 0, 0])

    for note in notes:
        pred = find(note.text)
        for g in note.spans:
            row = c(g.entity_type)
            row[0] += 1
            overlapping = [p for p in pred if p.start < g.end and g.start < p.end]
            row[1] += any(p.entity_type == g.entity_type for p in overlapping)
            row[2] += bool(overlapping)
        for p in pred:
            row = c(p.entity_type)
            row[3] += 1
            row[4] += any(g.entity_type == p.entity_type and p.start < g.end and g.start < p.end for g in note.spans)
    return {
        t: TypeScore(t, gold, predicted, hit / gold if gold else float("nan"), masked / gold if gold else float("nan"),
                     correct / predicted if predicted else float("nan"))
        for t, (gold, hit, masked, predicted, correct) in sorted(counts.items())
    }
