"""企业开办 — start a company.

Qingdao's "3540" promise: business licence, company seal, bank account and tax
matters within 3 working days; Jining does it in one step, one working day. Market
regulation registers the company and the window issues the business licence at
once (its e-licence is what the next steps rely on: "数据跑路代替群众跑腿"); then,
in parallel, public security records the seal engraving, the bank opens the basic
account, tax registers the new taxpayer (and grants invoices when asked), and HR &
social security registers the employer for social insurance. Most steps are 即办
(``days=0``); the bank has one working day. Promised 3 working days, statutory 20.

Applicant kind is ``"either"``: the company does not exist until its licence is
issued, so whoever applies is its investor or the investor's agent — a person in
the usual case, an organisation when a company sets up a subsidiary. The window
files it under that applicant; the licences carry that holder id.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import LegalBasis
from workflows.steps import CaseContext


class CompanyForm(BaseModel):
    """The one application form (企业开办"一表通")."""

    company_name: str = Field(
        min_length=4,
        max_length=100,
        description="企业名称",
        examples=[
            "济宁市彩虹文化传媒有限公司",
            "济宁市运河五金机电有限公司",
            "济宁市孔孟科技有限公司",
            "济宁市微湖商贸有限公司",
        ],
    )
    company_type: Literal["limited_liability", "joint_stock", "sole_proprietorship"] = Field(
        default="limited_liability",
        description="企业类型：有限责任公司 / 股份有限公司 / 个人独资企业",
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="住所（经营场所）",
        examples=[
            "济宁市梁山县崇文大道 33 号",
            "济宁市任城区建设路 66 号",
            "济宁市邹城市太白楼路 12 号",
            "济宁市泗水县洸河路 5 号",
        ],
    )
    registered_capital_wan: float = Field(
        ge=0,
        le=10_000_000,
        description="注册资本（万元）",
        examples=[500, 100, 50, 1000],
    )
    business_scope: str = Field(
        min_length=2,
        max_length=2000,
        description="经营范围",
        examples=[
            "餐饮管理；食品销售；企业管理咨询",
            "五金产品、机电设备销售",
            "软件开发；信息技术咨询服务",
            "日用百货销售；五金产品零售",
        ],
    )
    employees: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="拟参保职工人数",
        examples=[5, 0, 12, 39],
    )
    bank: str = Field(
        min_length=2,
        max_length=100,
        description="开户银行",
        examples=[
            "中国建设银行济宁分行",
            "中国工商银行济宁分行",
            "济宁银行",
            "中国农业银行济宁分行",
        ],
    )
    needs_invoices: bool = Field(default=True, description="同时申领发票")

    @field_validator("company_name")
    @classmethod
    def _name_has_organisation_form(cls, value: str) -> str:
        if not value.endswith(("公司", "企业", "厂", "店", "中心")):
            raise ValueError("企业名称应以组织形式结尾（如“有限公司”）")
        return value


chain = Chain(
    code="company",
    name_zh="企业开办",
    name_en="Start a company",
    form=CompanyForm,
    departments=("market", "public_security", "bank", "tax", "hrss"),
    materials=(
        Material("application", "企业开办一表通申请表"),
        Material("investor_id", "投资人（股东）身份证明", e_licence="resident_id"),
        Material("legal_rep_id", "法定代表人身份证明", e_licence="resident_id"),
        Material("charter", "公司章程（可使用章程范本）"),
        Material("officers", "董事、监事、经理任职文件"),
        Material(
            "premises_proof",
            "住所（经营场所）使用证明",
            key=False,
            commitment=True,
            needed_for=("business_licence",),
        ),
        Material("seal_specimen", "印章印模样式", key=False, needed_for=("seal_record",)),
        Material("bank_form", "银行开户申请书", key=False, needed_for=("bank_account",)),
    ),
    licences=(
        LicenceType("business_licence", "营业执照", "market"),
        LicenceType("seal_record", "印章刻制备案回执", "public_security"),
        LicenceType("bank_account", "基本存款账户开户信息", "bank"),
        LicenceType("tax_registration", "新办纳税人涉税事项确认书", "tax"),
        LicenceType("invoices", "发票领用（数电发票开票额度）确认书", "tax"),
        LicenceType("social_insurance", "社会保险登记证明", "hrss"),
    ),
    promised_days=3,
    statutory_days=20,
    applicant_kind="either",
    allow_incomplete=True,
    supplement_days=3,
    description="营业执照（先出件）→ 并联：刻章、银行开户、涉税事项、社保登记 → 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国公司法》",
            "《市场主体登记管理条例》第十九条",
            "《印铸刻字业暨印章刻制管理规定》（公章刻制备案）",
            "《人民币银行结算账户管理办法》（基本存款账户）",
            "《中华人民共和国税收征收管理法》第十五条（税务登记）",
            "《中华人民共和国社会保险法》第五十七条（单位社会保险登记）",
        ),
        statutory="《市场主体登记管理条例》第十九条：材料齐全的当场登记，不能当场的 3 个工作日内；其余事项按《行政许可法》第四十二条 20 个工作日计",
        promised="青岛「3540」改革：开办企业 3 个工作日内办结（营业执照、刻章、开户、涉税）",
        steps={
            "企业设立登记": "《市场主体登记管理条例》第十九条：3 个工作日内登记",
            "单位社会保险登记": "《社会保险法》第五十七条：自成立之日起 30 日内登记，窗口即办",
            "银行基本存款账户开户": "《人民币银行结算账户管理办法》：开户银行 1 个工作日",
        },
    ),
    fees="不收费（营业执照、公章刻制备案、税务登记、社保登记均不收费；首套印章刻制费用按当地政府购买服务政策）",
)


@chain.flow(version=1)
async def flow(case: CaseContext[CompanyForm]) -> None:
    await case.review("market", "企业设立登记", days=1)
    await case.issue("business_licence", wait=True)  # the seal, bank and tax need it

    tax_name = "新办纳税人涉税事项（税务登记" + (
        "、发票申领）" if case.form.needs_invoices else "）"
    )
    await case.parallel(
        "并联办理",
        case.review("public_security", "公章刻制备案", days=0),
        case.review("bank", "银行基本存款账户开户", days=1),
        case.review("tax", tax_name, days=0),
        case.review("hrss", "单位社会保险登记", days=0),
    )

    licences = ["seal_record", "bank_account", "tax_registration", "social_insurance"]
    if case.form.needs_invoices:
        licences.insert(3, "invoices")
    await case.issue(*licences)
