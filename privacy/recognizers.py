"""Rule-based recognizers for clinical identifiers, plugged into Presidio's registry.

Offline there are no NER weights (see docs/privacy.md), so every entity here is found
by patterns whose cue words are part of the pattern: Presidio's context boost needs
lemmas from a spaCy model we do not have. A pattern's named group `phi` (when
present) is the identifier itself, so "MRN: 00123456" scrubs to "MRN: <MRN>".
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from presidio_analyzer import EntityRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts


@dataclass(frozen=True)
class Rule:
    pattern: re.Pattern[str]
    score: float


class RuleRecognizer(EntityRecognizer):
    """One entity type, several regular expressions, each with a fixed score."""

    def __init__(self, entity: str, rules: Iterable[Rule], reject: re.Pattern[str] | None = None,
                 veto: "Callable[[str, int, int], bool] | None" = None) -> None:
        self.rules = tuple(rules)
        # Matches (of the `phi` text) that look right but are known non-identifiers.
        self.reject = reject
        # Context-aware rejection: veto(text, start, end) is True for a non-identifier.
        self.veto = veto
        super().__init__(supported_entities=[entity], name=f"clinqa_{entity.lower()}", supported_language="en")

    def load(self) -> None:  # patterns are compiled at import; nothing to load
        pass

    def analyze(self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None) -> list[RecognizerResult]:
        entity = self.supported_entities[0]
        results = []
        for rule in self.rules:
            for m in rule.pattern.finditer(text):
                start, end = m.span("phi") if "phi" in rule.pattern.groupindex else m.span()
                if start == end or (self.reject is not None and self.reject.fullmatch(text[start:end])):
                    continue
                if self.veto is not None and self.veto(text, start, end):
                    continue
                results.append(RecognizerResult(entity, start, end, rule.score))
        return results


def _r(pattern: str, score: float, flags: int = 0) -> Rule:
    return Rule(re.compile(pattern, flags), score)


# -- MRN -------------------------------------------------------------------------
_MRN_CUE = (
    r"(?:MRN|MR\s*#|MR\s*(?:no|num|number)\.?|med(?:ical)?\s+rec(?:ord)?s?(?:\s*(?:no|num|number|#))?\.?"
    r"|rec(?:ord)?\s*(?:no|num|number|#)\.?|chart(?:\s*(?:no|num|number|#|id))?\.?|(?:patient|pt)\s*(?:id|#)"
    r"|acct|account\s*(?:no|num|number|#)?\.?)"
)
# Other labelled record numbers HIPAA lists (health plan, account, licence, device numbers).
_ID_CUE = (
    r"(?:NHS\s*(?:no|num|number|#)\.?|(?:health\s*plan|insurance|member|beneficiary|policy|subscriber|group)\s*"
    r"(?:id|no|num|number|#)\.?|(?:encounter|visit|admission|accession|specimen|case)\s*(?:id|no|num|number|#)\.?"
    r"|(?:licen[cs]e|certificate|device|serial)\s*(?:id|no|num|number|#)\.?)"
)
# The identifier after a label: letters then at least 6 digits, which may be grouped by
# "-", ".", "/" or single spaces ("0048-2913", "943 476 5919", "AB-123-456").
_LABELLED_ID = r"[A-Z]{0,3}[-#]?(?=(?:[-./ ]?\d){6,16}(?![\d]))\d+(?:[-./ ]\d+){0,4}"
MRN_RULES = [
    _r(rf"\b(?:{_MRN_CUE}|{_ID_CUE})\s*(?:is|was|[:#=]|-)?\s*#?\s*(?P<phi>{_LABELLED_ID})\b", 0.9, re.I),
]

# -- dates -------------------------------------------------------------------------
# Month names are case-sensitive so "may 12 doses" is not a date.
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?"
    r"|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?|JAN|FEB|MAR|APR|MAY|JUNE?|JULY?|AUG|SEPT?|OCT|NOV|DEC)\.?"
)
_DAY = r"(?:0?[1-9]|[12]\d|3[01])"
_NUM_MONTH = r"(?:0?[1-9]|1[0-2])"
_YEAR4 = r"(?:1[89]\d\d|20\d\d)"
_ORD = r"(?:st|nd|rd|th)?"
# Not inside a longer number/date/version ("1.2.10", "12/03/2020/5"); a sentence's full stop may follow.
_NB = r"(?<![\d/-])(?<!\d\.)"
# Numbers followed by a dose, rate or count unit are a schedule or a range, not a date:
# "4-8-12 units", "2/3/10 mg", "5-10-15 mL".
_DOSE_UNIT = (
    r"(?:units?|u|iu|mg|mcg|µg|μg|ug|g|kg|ng|mmol|meq|ml|mls|l|cc|tabs?|tablets?|caps?|capsules?|puffs?|drops?"
    r"|gtts?|sprays?|doses?|sachets?|patch(?:es)?|times|x|hours?|hrs?|h|minutes?|mins?|days?|weeks?|wks?|months?"
    r"|mmhg|bpm|%|mg/kg|mcg/kg|units/kg|ml/h|mg/h)"
)
_NOT_DOSE = rf"(?!\s*(?i:{_DOSE_UNIT})(?![A-Za-z]))"
_NA = rf"(?![\d/-]|\.\d){_NOT_DOSE}"
DATE_RULES = [
    # 03/14/1952, 3-14-52, 14/03/1952 (day first): two small numbers and a year; the year
    # is required so blood pressures (120/80) and fractions (1/2) are not dates.
    _r(rf"{_NB}\d{{1,2}}([/-])\d{{1,2}}\1(?:{_YEAR4}|\d\d){_NA}", 0.85),
    _r(rf"{_NB}\d{{1,2}}\.\d{{1,2}}\.{_YEAR4}{_NA}", 0.8),
    # 1952-03-14, 1952/03/14, 1952.03.14, and ISO 8601 with a time (2021-03-04T10:00Z)
    _r(rf"{_NB}{_YEAR4}([/.-]){_NUM_MONTH}\1{_DAY}(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?)?{_NA}", 0.85),
    # March 14, 1952 / Mar. 14th 1952 / March 14 (no year: still a date tied to an event)
    _r(rf"\b{_MONTH}\s+{_DAY}{_ORD}(?:,?\s+{_YEAR4})?\b", 0.8),
    # 14 Mar 1952 / 14th of March, 1952 / 14-Mar-1952 / 14Mar1952
    _r(rf"\b{_DAY}{_ORD}[\s-]?(?:of\s+)?{_MONTH}(?:[\s,-]+(?:{_YEAR4}|\d\d))?\b", 0.8),
    # March 1952 / Mar-1952: month and year identify less, but HIPAA still counts them.
    _r(rf"\b{_MONTH}[\s,-]+(?:of\s+)?{_YEAR4}\b", 0.7),
    # Mar '21 / March of 2021 / 14.03.21 (day-first with a two-digit year, European notes)
    _r(rf"\b{_MONTH}\s*['’]\d\d\b", 0.7),
    _r(rf"{_NB}(?:0[1-9]|[12]\d|3[01])\.(?:0[1-9]|1[0-2])\.\d\d{_NA}", 0.75),
    # 03/2021, 3-2021 (month and year: "last colonoscopy 03/2021"); 2021-03 (ISO month)
    _r(rf"{_NB}{_NUM_MONTH}[/-]{_YEAR4}{_NA}", 0.75),
    _r(rf"{_NB}{_YEAR4}-(?:0[1-9]|1[0-2]){_NA}", 0.6),
    # DOB 031452 / DOB: 19520314 (compact dates only when a birth-date cue says so)
    _r(r"\b(?:DOB|D\.O\.B\.|date\s+of\s+birth|birth\s*date|born(?:\s+on)?)\s*[:\-]?\s*(?P<phi>\d{6}|\d{8})\b", 0.85, re.I),
]

# -- phone and fax ----------------------------------------------------------------------
_PHONE_CORE = (
    r"(?:(?:\+?1|001)[\s.\-]?)?(?:\(\d{3}\)|\d{3})[\s.\-]?\d{3}[\s.\-]?\d{4}"
    r"(?:\s*(?:x|ext\.?|extension)\s*\d{1,6})?"
)
PHONE_RULES = [
    _r(rf"(?<![\w+]){_PHONE_CORE}(?!\d)", 0.7, re.I),
    # Cued numbers in other layouts (international, 7-digit local): phone/fax/pager cue first.
    _r(r"\b(?:phone|ph|tel|telephone|cell|mobile|fax|facsimile|pager|beeper|contact(?:\s+number)?|call)\.?\s*(?:no\.?|number|#)?\s*[:\-]?\s*"
       r"(?P<phi>\+?\d[\d\s().\-]{5,18}\d(?:\s*(?:x|ext\.?)\s*\d{1,6})?)", 0.75, re.I),
]

# -- SSN ------------------------------------------------------------------------------------------------------
# Presidio's UsSsnRecognizer skips well-known sample SSNs (123-45-6789); every SSN-shaped string must go.
SSN_RULES = [
    _r(r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])", 0.85),
    _r(r"\b(?:SSN|SS#|SS\s+no\.?|social\s+security(?:\s+(?:number|no\.?|#))?)\s*[:#]?\s*(?P<phi>\d{3}[\s.-]?\d{2}[\s.-]?\d{4})\b", 0.9, re.I),
]

# -- addresses ----------------------------------------------------------------------------------------------
# Street suffixes from USPS Publication 28 (full words and standard abbreviations; plural
# forms via the optional "s"). Faker draws from the same list, so synthetic ADDRESS recall is
# optimistic for streets: real notes also abbreviate in non-standard ways.
_STREET_SUFFIX = (
    r"(?:(?:Alley|Annex|Arcade|Avenue|Bayou|Beach|Bend|Bluff|Bottom|Boulevard|Branch|Bridge|Brook|Burg|Bypass"
    r"|Camp|Canyon|Cape|Causeway|Center|Centre|Circle|Cliff|Club|Common|Corner|Course|Court|Cove|Creek|Crescent"
    r"|Crest|Crossing|Crossroad|Curve|Dale|Dam|Divide|Drive|Estate|Expressway|Extension|Fall|Ferry|Field|Flat"
    r"|Ford|Forest|Forge|Fork|Fort|Freeway|Garden|Gateway|Glen|Green|Grove|Harbor|Haven|Height|Highway|Hill"
    r"|Hollow|Inlet|Island|Isle|Junction|Key|Knoll|Lake|Land|Landing|Lane|Light|Loaf|Lock|Lodge|Loop|Mall"
    r"|Manor|Meadow|Mews|Mill|Mission|Motorway|Mount|Mountain|Neck|Orchard|Oval|Overpass|Park|Parkway|Pass"
    r"|Passage|Path|Pike|Pine|Place|Plain|Plaza|Point|Port|Prairie|Radial|Ramp|Ranch|Rapid|Rest|Ridge|River"
    r"|Road|Route|Row|Rue|Run|Shoal|Shore|Skyway|Spring|Spur|Square|Station|Stravenue|Stream|Street|Summit"
    r"|Terrace|Throughway|Trace|Track|Trafficway|Trail|Trailer|Tunnel|Turnpike|Underpass|Union|Valley"
    r"|Viaduct|View|Village|Ville|Vista|Walk|Wall|Way|Well)s?"
    r"|St|Ave|Av|Rd|Blvd|Dr|Ln|Ct|Pl|Ter|Cir|Pkwy|Hwy|Sq|Trl|Plz|Rte|Aly|Xing|Hts|Expy|Fwy|Cswy|Ctr|Crk|Cv"
    r"|Jct|Mtn|Rdg|Spg|Sta|Vly|Vw|Vlg|Tpke)"
)
_UNIT = r"(?:,?\s*(?:Apt|Apartment|Suite|Ste|Unit|Bldg|Building|Fl|Floor|Rm|Room|#)\.?\s*#?\s*[A-Za-z]?\d+[A-Za-z]?)"
_STATES = (
    r"(?:AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY"
    r"|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AS|MP|FM|MH|PW|AA|AE|AP)"
)
ADDRESS_RULES = [
    # 1234 N. Oak Street Apt. 5: number, optional direction, 1-3 capitalised words, a street suffix.
    _r(rf"\b\d{{1,6}}[ \t]+(?:[NSEW]\.?[ \t]+)?(?:[A-Z][A-Za-z'\-]*\.?[ \t]+){{1,3}}{_STREET_SUFFIX}\b\.?{_UNIT}?", 0.75),
    # Any capitalised street name after an address cue ("lives at 12 Foo Bar").
    _r(r"\b(?:address|(?:lives|resides|residing|living)(?:\s+alone)?\s+at|home\s+at)\s*[:\-]?\s*"
       rf"(?P<phi>\d{{1,6}}[ \t]+(?:[A-Z][A-Za-z'\-]*\.?[ \t]*){{1,4}}{_UNIT}?)", 0.7, re.I),
    # City, ST 12345(-6789)
    _r(rf"\b[A-Z][A-Za-z.'\-]*(?:[ \t]+[A-Z][A-Za-z.'\-]*){{0,3}},[ \t]*{_STATES}[ \t]+\d{{5}}(?:-\d{{4}})?\b", 0.8),
    _r(rf"\b{_STATES}[ \t]+\d{{5}}(?:-\d{{4}})?\b", 0.6),
    _r(r"\bP\.?[ \t]?O\.?[ \t]*Box[ \t]+\d+\b", 0.8, re.I),
    # Military and diplomatic mail: PSC 1234, Box 5678 / Unit 1234 Box 5678 / USNS Name / APO AE 12345
    _r(r"\b(?:PSC|Unit|CMR)[ \t]+\d{4},?[ \t]+Box[ \t]+\d{4}\b", 0.8),
    _r(r"\b(?:USNS|USNV|USS|USCGC)[ \t]+[A-Z][a-z]+\b", 0.7),
    _r(r"\b[ADF]PO[ \t]+A[AEP][ \t]+\d{5}\b", 0.8),
    _r(r"\b(?:zip|zip\s*code|postal\s*code)\s*[:#]?\s*(?P<phi>\d{5}(?:-\d{4})?)\b", 0.8, re.I),
]

# -- ages over 89 (HIPAA safe harbour: ages of 90+ are identifying, younger ages are not) ----------------
_AGE90 = r"(?:9\d|1[0-4]\d)"
AGE_RULES = [
    _r(rf"\b{_AGE90}[\s-]*(?:years?|yrs?|y)[\s-]*old\b", 0.85, re.I),
    _r(rf"\b{_AGE90}[\s-]*(?:yo|y/o|y\.o\.?|yrs?|years?)(?:\s+of\s+age)?(?![\w/])", 0.8, re.I),
    _r(rf"\b(?:age|aged|ages|age:)\s*[:\-]?\s*{_AGE90}\b", 0.85, re.I),
    _r(rf"\b(?:nonagenarian|centenarian)\b", 0.6, re.I),
]

# -- names (rules only: no NER model offline) ---------------------------------------------
_NAME_WORD = r"(?:[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?|[A-Z]'[A-Z][a-z]+|Mc[A-Z][a-z]+|Mac[A-Z][a-z]+)"
# First [M.] Last [Last2] -- words separated by spaces/tabs only, so a name never runs onto the next line.
_NAME = rf"(?:{_NAME_WORD})(?:[ \t]+[A-Z]\.?)?(?:[ \t]+(?:{_NAME_WORD})){{0,2}}"
_TITLE = r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sr|Sra|Mme)\.?"
_CUE = (
    r"(?i:patient|pt\.?|signed(?:\s+by)?|electronically\s+signed\s+by|cosigned\s+by"
    r"|dictated\s+by|transcribed\s+by|attending(?:\s+physician)?|referring\s+physician|referred\s+by|seen\s+by"
    r"|physician|provider|surgeon|nurse|PCP|next\s+of\s+kin|emergency\s+contact|spouse|husband|wife|son|daughter"
    r"|mother|father|guardian|caregiver)"
)
_CREDENTIAL = r"(?:MD|M\.D\.|DO|D\.O\.|RN|NP|PA-C|PA|PhD|DDS|PharmD|FACP|FACS|MBBS|APRN|CNM|LPN)"
PERSON_RULES = [
    _r(rf"\b{_TITLE}[ \t]+(?P<phi>{_NAME})", 0.85),
    # A "Name:" field; plain "name" is no cue ("the brand name Lipitor").
    _r(rf"\b(?i:(?:patient|pt\.?)\s+name|name)\s*:[ \t]*(?P<phi>{_NAME})", 0.85),
    # "Name: Smith, John" (last, first)
    _r(rf"\b(?i:name)\s*:\s*(?P<phi>(?:{_NAME_WORD}),[ \t]*(?:{_NAME_WORD})(?:[ \t]+[A-Z]\.?)?)", 0.9),
    _r(rf"\b{_CUE}[ \t]*[:,\-]?[ \t]*(?P<phi>{_NAME})", 0.6),
    # John Smith, MD
    _r(rf"(?P<phi>(?:{_NAME_WORD})(?:[ \t]+[A-Z]\.?)?[ \t]+(?:{_NAME_WORD})),?[ \t]+{_CREDENTIAL}\b", 0.8),
    # First Last right before another identifier: the header of most notes ("Jane Roe, DOB ...").
    _r(rf"(?P<phi>{_NAME_WORD}(?:[ \t]+[A-Z]\.)?[ \t]+{_NAME_WORD})\b(?=(?:,?[ \t]+|,)\(?(?i:DOB|D\.O\.B|MRN|MR#|SSN|age[ds]?\b|\d{{1,3}}[ -]?(?:yo|y/o|years?|yrs?)\b))", 0.7),
    # First Last as the subject of a clinical event.
    _r(rf"(?P<phi>{_NAME_WORD}(?:[ \t]+[A-Z]\.)?[ \t]+{_NAME_WORD})(?=[ \t]+(?:is an?[ \t]+\d|was[ \t]+(?:seen|admitted|discharged|transferred|evaluated)|presents|presented|complains|denies|reports))", 0.6),
    # A signature line: "Signed," / "Sincerely," then the name on the next line.
    _r(rf"(?im:^[ \t]*(?:signed|sincerely|regards|best\s+regards|electronically\s+signed)[ \t]*[,:]?[ \t]*\n[ \t]*)(?P<phi>{_NAME})", 0.8),
]
# Capitalised words that follow name cues in ordinary clinical English ("Patient Education",
# "Dr. Office"); a PERSON match made only of these is dropped.
_NOT_NAMES = (
    "education|information|safety|care|history|record|records|portal|guide|handout|identifier|id|number|name"
    "|presents|reports|denies|states|with|has|had|was|is|and|the|of|in|on|at|to|for|visit|instructions|consent"
    "|satisfaction|outcomes|assessment|advocate|transfer|office|on-call|oncall|team|notes|note|unknown|assistant|assistants|practitioner|practitioners|dr|mr|mrs|ms|miss|mx|prof"
)
PERSON_REJECT = re.compile(rf"(?i:(?:{_NOT_NAMES})(?:[ \t]+(?:{_NOT_NAMES}))*)")

# -- medical lexicon: eponyms and disease heads veto PERSON ------------------------------------------
# Head nouns that make a capitalised word before them a disease name ("Hodgkin lymphoma",
# "Graves disease"). Only nouns that do not follow a person's name in ordinary notes.
DISEASE_HEADS = frozenset("""
    disease diseases syndrome syndromes disorder lymphoma lymphomas sarcoma sarcomas carcinoma tumor tumour palsy
    anemia anaemia anomaly encephalopathy encephalitis dystrophy ataxia chorea neuralgia neuroma thyroiditis
    arteritis contracture leukemia leukaemia myopathy neuropathy dementia deformity lupus angina esophagus
    oesophagus ulcer fever
""".split())
# Heads that also follow names ("Smith cell phone", "Jones test results"): they veto only
# eponyms ("Babinski sign", "Whipple procedure", "Reed-Sternberg cells").
EPONYM_HEADS = DISEASE_HEADS | frozenset("""
    sign signs reflex reflexes phenomenon test maneuver manoeuvre virus fracture node nodes cell cells procedure
    operation classification criteria score scale triad body bodies cyst hernia pouch diverticulum lesion aneurysm
    malformation infection colitis ileitis duct canal gland glands effect law technique stain nodule nodules
""".split())
# Eponyms of common diseases. Alone they may be surnames ("Patient: Wilson"), so a match of
# eponyms only is vetoed when written as a possessive ("Crohn's", "Alzheimer's"), or when a
# disease head follows (handled by DISEASE_HEADS).
EPONYMS = frozenset("""
    addison alzheimer asperger barrett basedow behcet bell bright buerger burkitt chagas charcot crohn cushing
    creutzfeldt jakob down duchenne dupuytren ehlers danlos ewing fabry gaucher graves guillain barre hashimoto
    hirschsprung hodgkin huntington kaposi kawasaki klinefelter korsakoff legionnaires lyme marfan meniere menière
    niemann paget parkinson peyronie pick raynaud reiter sjogren sjögren still tay sachs tourette turner wegener
    wernicke whipple wilms wilson zollinger ellison kahler conn osgood schlatter perthes sturge weber hippel lindau
    recklinghausen friedreich gehrig lou bechterew kienbock kienböck scheuermann tietze waldenstrom waldenström
    takayasu horner budd chiari noonan prader willi angelman rett gilbert alport bartter cohn dressler kussmaul
    mallory weiss reye hunter hurler sanfilippo morquio pompe tangier wolff babinski murphy mcburney kernig brudzinski
""".split())
# Eponyms that are also common surnames or words ("Patient: Turner's chart"): only a disease
# or sign head after them makes them a disease name, never a possessive alone or the NER.
SURNAME_EPONYMS = frozenset("""
    wilson turner bell still down pick hunter murphy gilbert weber weiss barrett graves bright horner noonan
    mallory ellison conn cohn wolff reiter budd whipple kahler dressler paget lou
""".split())
_POSSESSIVE = re.compile(r"['’]s?$")
_NEXT = re.compile(r"(?:['’]s?)?[ \t]+([A-Za-z]+)(?:[ \t]+([A-Za-z]+))?")


_TITLE_BEFORE = re.compile(rf"\b{_TITLE}[ \t]*$")


def after_title(text: str, start: int) -> bool:
    """An honorific ("Dr.", "Mrs") right before `start`: what follows is a person's name,
    even an eponym ("Dr. Parkinson")."""
    return bool(_TITLE_BEFORE.search(text, max(0, start - 12), start))


def medical_name_veto(text: str, start: int, end: int) -> bool:
    """True when the PERSON candidate text[start:end] is part of a disease or sign name, so
    it must not be masked (nor warned about):

    - one of its words is a disease head ("Graves Disease"), or a disease head follows it
      directly ("Hodgkin lymphoma", "Parkinson's disease");
    - it is made of eponyms only (`EPONYMS`) and is a possessive ("history of Crohn's") or
      is followed, within two words, by a disease or sign head ("Babinski sign",
      "Burkitt cell lymphoma").
    A plain surname that is also an eponym ("Patient: Wilson", "Dr. Parkinson's clinic")
    stays a name."""
    words = re.findall(r"[^\W\d_]+(?:['’][^\W\d_]+)?['’]?", text[start:end])
    bare = [_POSSESSIVE.sub("", w).lower() for w in words]
    if not bare:
        return False
    if any(w in DISEASE_HEADS for w in bare):
        return True
    m = _NEXT.match(text, end)
    following = [w.lower() for w in (m.groups() if m else ()) if w]
    if following and following[0] in DISEASE_HEADS:
        return True
    if not all(w in EPONYMS for w in bare) or after_title(text, start):
        return False
    if any(w in EPONYM_HEADS for w in following):
        return True
    possessive = bool(_POSSESSIVE.search(words[-1])) or text[end:end + 1] in ("'", "’")
    return possessive and not any(w in SURNAME_EPONYMS for w in bare)


def clinical_recognizers() -> list[RuleRecognizer]:
    """The clinqa recognizers, one per entity type (entity names are the placeholder names)."""
    return [
        RuleRecognizer("MRN", MRN_RULES),
        RuleRecognizer("DATE", DATE_RULES),
        RuleRecognizer("PHONE", PHONE_RULES),
        RuleRecognizer("SSN", SSN_RULES),
        RuleRecognizer("ADDRESS", ADDRESS_RULES),
        RuleRecognizer("AGE", AGE_RULES),
        RuleRecognizer("PERSON", PERSON_RULES, reject=PERSON_REJECT, veto=medical_name_veto),
    ]
