"""人才引进 — bring in a talent: a person's chain (个人办理).

What the flow is based on. The Qingdao seed (关于深化放管服改革进一步优化政务环境的意见,
2017, part (五)) names 人才引进 first among the chains to be handled 全链条 by the end of
2017: the matters scattered over the talent office, public security and human
resources & social security become one form, one set of materials, one window.

* **人才认定 first** (talent office, 人才办). The city's talent policy decides who counts
  as a talent (doctorate, master's, bachelor's degree, senior professional title, a
  senior technician) and on what terms; the talent office checks the degree and the
  employment contract and issues the 人才认定证明. Everything after relies on it, so it
  is issued at once (as the business licence in 企业开办).
* **In parallel** (并联办理):
  - **落户** (public security, household registration, only when the form asks for it):
    《户口登记条例》 art. 10 and the city's 人才落户 rules — the 准予迁入证明 for the
    talent and the family members who move with them.
  - **社会保险** (human resources & social security): a new 参保登记 on the day
    (``days=0``), or, when insurance paid elsewhere moves in, the 转移接续 within 15
    working days (《城镇企业职工基本养老保险关系转移接续暂行办法》 art. 8) — counted here
    as the step's limit of 5 working days the office promises.
  - **人才住房补贴** (talent office, only when asked for): the subsidy decision.
* **统一出件**: the window hands out what the parallel stage decided.

Promised 10 working days (认定 5 + the longest parallel step 5), statutory 20 (行政许可法
art. 42, for 户口迁移审批, the one licence in the chain). Nothing is charged. An office
must check all of this against its local 人才政策 and 实施清单 before using it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.material_conditions import FormIs
from workflows.steps import CaseContext, StepResult

TalentKind = Literal["doctorate", "master", "bachelor", "senior_title", "senior_technician"]


class TalentForm(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here."""

    employer_name: str = Field(
        min_length=2,
        max_length=100,
        description="用人单位名称",
        examples=["济宁高新区智能制造有限公司", "曲阜师范大学", "邹城市人民医院"],
    )
    talent_kind: TalentKind = Field(
        default="master",
        description="人才类别：博士 / 硕士 / 本科 / 高级职称 / 高级技师",
    )
    age: int = Field(ge=18, le=65, description="年龄（周岁）", examples=[28, 35, 42])
    settle_household: bool = Field(default=True, description="申请人才落户")
    family_members: int = Field(
        default=0, ge=0, le=6, description="随迁家属人数（配偶、未成年子女）", examples=[0, 2, 1]
    )
    social_security_transfer: bool = Field(
        default=False, description="转入外地社会保险关系（转移接续）"
    )
    housing_subsidy: bool = Field(default=False, description="申请人才住房补贴")

    @model_validator(mode="after")
    def _family_moves_with_the_talent(self) -> TalentForm:
        # family members move their household with the talent's, never on their own
        if self.family_members > 0 and not self.settle_household:
            raise ValueError("随迁家属须随申请人一并落户：申请落户后方可填写随迁家属人数")
        return self


chain = Chain(
    code="talent",
    name_zh="人才引进",
    name_en="Bring in a talent",
    form=TalentForm,
    departments=("talent", "public_security", "hrss"),
    materials=(
        Material("application", "人才引进一链办理申请表"),
        Material("applicant_id", "申请人居民身份证", e_licence="resident_id"),
        Material("degree_proof", "学历学位证书或职称（职业资格）证书及认证报告"),
        Material("employment_contract", "与用人单位签订的劳动（聘用）合同"),
        Material(
            "household_papers",
            "户口簿或户籍证明、随迁家属关系证明（结婚证、出生医学证明）",
            key=False,
            required_if=FormIs("settle_household"),
            form_hint="有随迁家属的提交关系证明",
        ),
        Material(
            "insurance_record",
            "原参保地社会保险参保缴费凭证",
            key=False,
            required_if=FormIs("social_security_transfer"),
        ),
        Material(
            "housing_statement",
            "本市无自有住房的书面承诺",
            key=False,
            commitment=True,
            verifier="talent",
            required_if=FormIs("housing_subsidy"),
        ),
    ),
    licences=(
        LicenceType("talent_certificate", "人才认定证明（人才服务卡）", "talent"),
        LicenceType("household_move_permit", "准予迁入证明（人才落户）", "public_security"),
        LicenceType("personal_insurance_record", "个人社会保险参保（转移接续）凭证", "hrss"),
        LicenceType("housing_subsidy_decision", "人才住房补贴核准通知", "talent"),
    ),
    promised_days=10,
    statutory_days=20,
    applicant_kind="person",
    description="人才认定 → 并联办理（落户、社保、住房补贴）→ 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国户口登记条例》第十条（户口迁移）",
            "《中华人民共和国社会保险法》第十九条、第五十七条、第五十八条",
            "《城镇企业职工基本养老保险关系转移接续暂行办法》第八条",
            "本市人才引进与人才落户政策、人才住房补贴办法",
            "《中华人民共和国行政许可法》第四十二条",
        ),
        statutory="《行政许可法》第四十二条：户口迁移审批（链条中唯一的行政许可）20 个工作日；"
        "人才认定、参保登记、住房补贴为公共服务事项，按本地实施清单",
        promised="青岛「全链条」办理（2017 年底前先行实施人才引进）及本地承诺：10 个工作日",
        steps={
            "社会保险关系转移接续": "《城镇企业职工基本养老保险关系转移接续暂行办法》第八条："
            "15 个工作日内办结转移接续；本地承诺 5 个工作日",
            "人才落户审批": "《户口登记条例》第十条及本市人才落户规定",
            "个人社会保险参保登记": "《社会保险法》第五十八条：用人单位自用工之日起 30 日内"
            "为职工办理登记；窗口即办",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[TalentForm]) -> None:
    form = case.form
    await case.review("talent", "人才认定审核", days=5)
    await case.issue("talent_certificate")

    async def insurance() -> StepResult:
        if form.social_security_transfer:
            return await case.review("hrss", "社会保险关系转移接续", days=5)
        return await case.review("hrss", "个人社会保险参保登记", days=0)

    steps = [insurance()]
    licences = ["personal_insurance_record"]
    if form.settle_household:
        steps.insert(0, case.review("public_security", "人才落户审批", days=3))
        licences.insert(0, "household_move_permit")
    if form.housing_subsidy:
        steps.append(case.review("talent", "人才住房补贴审核", days=5))
        licences.append("housing_subsidy_decision")
    await case.parallel("并联办理", *steps)
    await case.issue(*licences)
