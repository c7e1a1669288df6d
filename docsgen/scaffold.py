"""``onechain chains new``: a new chain module and its test, written from a template
that already passes ``chains check`` and its own test, and registered in
``CHAIN_MODULES``. The author then edits the form, the materials and the flow.

Pure text, plus :func:`register_module` which edits ``chains/__init__.py``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from domain.departments import DEPARTMENTS, department_name

CODE_PATTERN = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MODULES_PATTERN = re.compile(r"CHAIN_MODULES\s*=\s*\((?P<body>[^)]*)\)", re.S)
#: Step limits of the template's flow: parallel reviews, then an optional survey.
LINE_LENGTH = 100
MAX_REVIEW_DAYS = 5
SURVEY_DAYS = 2


@dataclass(frozen=True)
class NewChain:
    """What ``chains new`` asks for."""

    code: str
    name_zh: str
    name_en: str
    departments: tuple[str, ...]
    promised_days: int
    statutory_days: int
    applicant_kind: Literal["person", "organisation", "either"] = "organisation"

    def problems(self) -> list[str]:
        """Every reason the answers cannot make a valid chain, each naming the option."""
        found: list[str] = []
        if not CODE_PATTERN.match(self.code):
            found.append(
                f"CODE {self.code!r}: 2–40 lower-case letters, digits or '_', starting with a letter"
            )
        if not self.name_zh.strip():
            found.append("--name-zh: give the chain's Chinese name, e.g. 我要开药店")
        if not self.departments:
            found.append("--departments: name at least one department")
        unknown = [d for d in self.departments if d not in DEPARTMENTS or d == "window"]
        if unknown:
            known = ", ".join(d for d in DEPARTMENTS if d != "window")
            found.append(f"--departments: unknown {', '.join(unknown)} (known: {known})")
        if len(set(self.departments)) != len(self.departments):
            found.append("--departments: a department is named twice")
        if self.promised_days < 1:
            found.append("--promised-days: at least 1 working day")
        if self.statutory_days < self.promised_days:
            found.append(
                f"--statutory-days {self.statutory_days} is shorter than --promised-days "
                f"{self.promised_days}"
            )
        return found

    @property
    def class_name(self) -> str:
        return "".join(part.capitalize() for part in self.code.split("_")) + "Form"

    @property
    def survey_days(self) -> int:
        return min(SURVEY_DAYS, self.promised_days // 3)

    @property
    def review_days(self) -> int:
        return min(MAX_REVIEW_DAYS, self.promised_days - self.survey_days)

    @property
    def licences(self) -> list[tuple[str, str, str]]:
        """(code, name, department): one approval per department, to be renamed."""
        return [(f"{d}_approval", f"{department_name(d)}审批意见书", d) for d in self.departments]


def _width(text: str) -> int:
    """Columns a line takes, as the formatter counts them (CJK characters are wide)."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _call(
    indent: int, function: str, args: list[str], suffix: str = ",", brackets: str = "()"
) -> str:
    """``function(args)`` laid out the way ``ruff format`` would: one line if it fits in
    100 columns, else the arguments on one indented line, else one per line."""
    pad = " " * indent
    start, end = brackets
    line = f"{pad}{function}{start}{', '.join(args)}{end}{suffix}"
    if _width(line) <= LINE_LENGTH:
        return line
    inner = f"{pad}    {', '.join(args)}"
    if _width(inner) <= LINE_LENGTH:
        return f"{pad}{function}{start}\n{inner}\n{pad}{end}{suffix}"
    items = "".join(f"{pad}    {a},\n" for a in args)
    return f"{pad}{function}{start}\n{items}{pad}{end}{suffix}"


def module_source(new: NewChain) -> str:
    """The chain module: a form, one set of materials, a licence per department, and a
    flow of parallel reviews, a joint survey when the form asks for one, one issuance."""
    reviews = "\n".join(
        f'        case.review("{d}", "{department_name(d)}审查", days={new.review_days}),'
        for d in new.departments
    )
    licences = [
        _call(8, "LicenceType", [f'"{code}"', f'"{name}"', f'"{dept}"'], "").strip()
        for code, name, dept in new.licences
    ]
    licences_arg = f"    licences=({licences[0]},),"
    if len(licences) > 1 or _width(licences_arg) > LINE_LENGTH or "\n" in licences[0]:
        licences_arg = (
            "    licences=(\n"
            + "".join(
                _call(8, "LicenceType", [f'"{c}"', f'"{n}"', f'"{d}"']) + "\n"
                for c, n, d in new.licences
            )
            + "    ),"
        )
    issue = _call(4, "await case.issue", [f'"{code}"' for code, _, _ in new.licences], "")
    departments = _call(0, "DEPARTMENTS = ", [f'"{d}"' for d in new.departments], suffix="")
    if len(new.departments) == 1:
        departments = departments.replace('")', '",)')
    return f'''"""{new.name_zh} — {new.name_en}.

Written by ``onechain chains new``: replace this with what happens, in order, what
the flow is based on (the law, the local 实施清单) and where the limits come from;
an office must check it against its own 实施清单. Promised {new.promised_days} working
days, statutory {new.statutory_days}.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.steps import CaseContext

{departments}


class {new.class_name}(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here;
    ``examples`` feed the demo cases, the drawings and the import sample."""

    subject_name: str = Field(
        min_length=2,
        max_length=100,
        description="申请事项名称",
        examples=["济宁市运河示例项目", "济宁市孔孟示例项目"],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="经营（建设）地址",
        examples=["济宁市任城区古槐路 18 号", "济宁市曲阜市运河路 204 号"],
    )
    needs_site_survey: bool = Field(default=False, description="需要联合现场踏勘")


chain = Chain(
    code="{new.code}",
    name_zh="{new.name_zh}",
    name_en="{new.name_en}",
    form={new.class_name},
    departments=DEPARTMENTS,
    materials=(
        Material("application", "一链办理申请表"),
        Material("applicant_id", "申请人（法定代表人）身份证明", e_licence="resident_id"),
        Material("site_plan", "场所平面图", key=False, commitment=True),
    ),
{licences_arg}
    promised_days={new.promised_days},
    statutory_days={new.statutory_days},
    applicant_kind="{new.applicant_kind}",
    description="并联审查 → 联合踏勘（需要时） → 统一出件",
    legal_basis=LegalBasis(  # 法律依据: shown by `chains show` and on the 办事指南 page
        laws=("（填写本事项依据的法律、法规、规章）",),
        statutory="（填写法定 {new.statutory_days} 个工作日的出处，例如《行政许可法》第四十二条）",
        promised="（填写承诺 {new.promised_days} 个工作日的出处：本地承诺文件）",
        steps={{}},  # step name → its own basis, where it differs from the chain's
    ),
    fees=NO_FEES,  # or the charges and their basis
)


@chain.flow(version=1)
async def flow(case: CaseContext[{new.class_name}]) -> None:
    await case.parallel(
        "并联审查",
{reviews}
    )
    if case.form.needs_site_survey:
        await case.joint_survey(DEPARTMENTS, "联合踏勘", days={new.survey_days})
{issue}
'''


def test_source(new: NewChain) -> str:
    """The chain's test: one case per branch of the template flow, and a rejection."""
    kind = "person" if new.applicant_kind == "person" else "organisation"
    licences = _call(0, "LICENCES = ", [f'"{c}"' for c, _, _ in new.licences], "", "{}")
    return f'''"""The {new.code} chain ({new.name_zh}) on a real Temporal server: one case per
branch of its flow. Run: ./run.sh test tests/test_chain_{new.code}.py
"""

from __future__ import annotations

from chains.{new.code} import DEPARTMENTS
from domain.case import CaseStatus, TaskKind, Verdict
from tests.harness import CaseDriver, fresh_applicant

CHAIN = "{new.code}"
FORM = {{"subject_name": "济宁市运河示例项目", "address": "济宁市任城区古槐路 18 号"}}
{licences}


async def test_reviews_run_in_parallel_and_everything_is_issued(driver: CaseDriver) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant("{kind}"))
    state = await driver.wait_for_tasks(case_no)
    assert sorted(d for t in state.open_tasks for d in t.departments) == sorted(DEPARTMENTS)

    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    assert {{lic.type for lic in outcome.licences}} == LICENCES
    state = await driver.state(case_no)
    assert not [t for t in state.tasks if t.kind is TaskKind.JOINT_SURVEY]


async def test_a_site_survey_only_when_the_form_asks(driver: CaseDriver) -> None:
    form = {{**FORM, "needs_site_survey": True}}
    case_no = await driver.start(CHAIN, form, applicant=fresh_applicant("{kind}"))
    outcome = await driver.run_to_end(case_no)
    assert outcome.status is CaseStatus.APPROVED
    state = await driver.state(case_no)
    surveys = [t for t in state.tasks if t.kind is TaskKind.JOINT_SURVEY]
    assert [sorted(t.departments) for t in surveys] == [sorted(DEPARTMENTS)]


async def test_a_rejection_ends_the_case_not_approved(driver: CaseDriver) -> None:
    case_no = await driver.start(CHAIN, FORM, applicant=fresh_applicant("{kind}"))
    task = (await driver.wait_for_tasks(case_no)).open_tasks[0]
    await driver.decide(
        case_no, task.id, task.departments[0], verdict=Verdict.REJECT, reason="不符合条件"
    )
    outcome = await driver.desk.outcome(case_no)
    assert outcome.status is CaseStatus.NOT_APPROVED
    assert outcome.licences == []
'''


def register_module(init_text: str, code: str) -> str:
    """``chains/__init__.py`` with ``code`` appended to ``CHAIN_MODULES``."""
    match = MODULES_PATTERN.search(init_text)
    if match is None:
        raise ValueError("chains/__init__.py has no CHAIN_MODULES = (...) tuple")
    names = re.findall(r"[\"']([A-Za-z0-9_]+)[\"']", match.group("body"))
    if code in names:
        return init_text
    names.append(code)
    inline = "CHAIN_MODULES = (" + ", ".join(f'"{n}"' for n in names) + ")"
    if len(inline) > 100:
        inline = "CHAIN_MODULES = (\n" + "".join(f'    "{n}",\n' for n in names) + ")"
    return init_text[: match.start()] + inline + init_text[match.end() :]


def write_new_chain(new: NewChain, root: Path) -> list[Path]:
    """Write the module and its test under ``root`` and register the module; refuses
    to overwrite. Returns the files written or changed."""
    module = root / "chains" / f"{new.code}.py"
    test = root / "tests" / f"test_chain_{new.code}.py"
    init = root / "chains" / "__init__.py"
    for path in (module, test):
        if path.exists():
            raise FileExistsError(f"{path} already exists; pick another code or remove it")
    if not init.is_file():
        raise FileNotFoundError(f"{init}: not a chains package (use --root PROJECT_DIR)")
    registered = register_module(init.read_text(encoding="utf-8"), new.code)
    module.write_text(module_source(new), encoding="utf-8")
    test.parent.mkdir(parents=True, exist_ok=True)
    test.write_text(test_source(new), encoding="utf-8")
    init.write_text(registered, encoding="utf-8")
    return [module, test, init]
