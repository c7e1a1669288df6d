"""我要开诊所 — open a clinic.

What the flow is based on. The Qingdao seed (关于深化放管服改革进一步优化政务环境的意见,
2017, part (五)) asks for 全链条 handling in 医疗; the steps follow the national rules:

* **诊所备案** (health; a 中医诊所 under 《中医诊所备案管理暂行办法》, same office). Since 《医疗机构管理条例》 (2022 revision) and 《诊所备案管理暂行办法》
  (国卫医政发〔2022〕33号) a clinic is filed, not licensed: the county health commission
  files it when the materials are complete and checks the site afterwards (within 30
  days, outside this chain). A one-day review here.
* **Medical waste and sewage** (ecology). 《医疗废物管理条例》 and the 固定污染源排污许可
  分类管理名录: a small clinic registers its discharges (排污登记) and shows its contract
  with a licensed medical-waste disposer. One day.
* **X-ray equipment** (only when the form says so). Using a radiation device needs the
  辐射安全许可证 (ecology, 《放射性同位素与射线装置安全和防护条例》, valid 5 years) and
  the 放射诊疗许可证 (health, 《放射诊疗管理规定》). Both inspect the shielding on
  site, so they survey it together (联合现场核查) and then decide in parallel.
* **Fire** (fire rescue). A clinic is not a 公众聚集场所, so there is no pre-opening
  fire-safety licence; fire rescue checks the premises' fire-safety conditions and
  gives its opinion within the same parallel stage (no certificate is issued).
* **Registration.** A for-profit clinic is a business: market regulation registers
  it first (营业执照, issued at once so the filing can rely on it, as in 企业开办)
  unless the applicant already holds a business licence (its e-licence replaces the
  entity proof). A non-profit clinic registers with civil affairs as a 民办非企业单位
  after the health filing (the filing is its 业务主管 approval).

Promised 10 working days (the longest branch: registration 1 + reviews 3 + survey 3 +
decisions 2 = 9), statutory 20 (行政许可法 art. 42). 告知承诺 where the rules allow it
(the clinic's rules and the waste-disposal contract are checked afterwards). An office
must check all of this against its local 实施清单 before using it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.material_conditions import FormIs
from workflows.steps import CaseContext


class ClinicForm(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here."""

    clinic_name: str = Field(
        min_length=2,
        max_length=100,
        description="诊所名称",
        examples=["济宁任城仁和诊所", "曲阜杏林中医诊所", "兖州康宁口腔诊所", "邹城济民诊所"],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="执业地址",
        examples=[
            "济宁市任城区古槐路 18 号",
            "济宁市曲阜市鼓楼大街 9 号",
            "济宁市兖州区建设路 66 号",
            "济宁市邹城市太白楼路 12 号",
        ],
    )
    clinic_kind: Literal["general", "tcm", "dental", "other_specialty"] = Field(
        default="general",
        description="诊所类别：普通诊所 / 中医诊所 / 口腔诊所 / 其他专科诊所",
    )
    floor_area_m2: float = Field(
        gt=0, le=5_000, description="建筑面积（平方米）", examples=[60, 120, 200, 350]
    )
    doctors: int = Field(ge=1, le=100, description="执业医师人数", examples=[1, 2, 3, 5])
    for_profit: bool = Field(
        default=True, description="营利性诊所（营利性办理营业执照，非营利性办理民办非企业单位登记）"
    )
    existing_business_licence: bool = Field(
        default=False, description="已取得营业执照（营利性诊所不再办理主体登记）"
    )
    uses_xray: bool = Field(
        default=False, description="使用 X 射线诊断设备（如牙片机、DR），需辐射安全和放射诊疗许可"
    )

    @property
    def needs_business_registration(self) -> bool:
        return self.for_profit and not self.existing_business_licence


chain = Chain(
    code="clinic",
    name_zh="我要开诊所",
    name_en="Open a clinic",
    form=ClinicForm,
    departments=("health", "ecology", "fire", "market", "civil_affairs"),
    materials=(
        Material("application", "一链办理申请表（诊所备案信息表）"),
        Material("operator_id", "举办人（法定代表人）身份证明", e_licence="resident_id"),
        Material(
            "entity_proof",
            "主体资格证明（营业执照；新设立的提交名称自主申报告知书）",
            e_licence="business_licence",
            required_if="for_profit",
        ),
        Material("premises_proof", "执业场所产权证明或租赁合同"),
        Material("layout_plan", "诊所平面布局图（诊室、治疗室、处置室分区）"),
        Material("doctor_credentials", "主要负责人医师资格证书、执业证书（执业满 5 年）"),
        Material("staff_list", "医务人员名册及执业资格证明"),
        Material("equipment_list", "主要设备清单"),
        Material(
            "rules",
            "诊所规章制度和技术操作规范",
            key=False,
            commitment=True,
            verifier="health",
            needed_for=("clinic_filing",),
        ),
        Material(
            "waste_contract",
            "医疗废物集中处置协议及污水处理说明",
            key=False,
            commitment=True,
            verifier="ecology",
            needed_for=("pollutant_registration",),
        ),
        Material(
            "fire_plan", "消防安全管理制度及疏散平面图", key=False, needed_for=("clinic_filing",)
        ),
        Material(
            "radiation_assessment",
            "放射诊疗建设项目职业病危害放射防护评价报告及辐射环境影响登记表",
            key=False,
            required_if="uses_xray",
            needed_for=("radiation_safety_licence",),
        ),
        Material(
            "radiation_staff",
            "放射工作人员培训合格证明及个人剂量监测安排",
            key=False,
            required_if="uses_xray",
            needed_for=("radiodiagnosis_licence",),
        ),
        Material(
            "charter",
            "章程（非营利性诊所办理民办非企业单位登记用）",
            key=False,
            required_if=FormIs("for_profit", "==", False),
            needed_for=("private_non_enterprise",),
        ),
    ),
    licences=(
        LicenceType("business_licence", "营业执照", "market"),
        LicenceType("clinic_filing", "诊所备案凭证", "health"),
        LicenceType("pollutant_registration", "固定污染源排污登记回执", "ecology", valid_years=5),
        LicenceType("radiation_safety_licence", "辐射安全许可证", "ecology", valid_years=5),
        LicenceType("radiodiagnosis_licence", "放射诊疗许可证", "health"),
        LicenceType("private_non_enterprise", "民办非企业单位登记证书", "civil_affairs"),
    ),
    promised_days=10,
    statutory_days=20,
    applicant_kind="either",  # a doctor (个体诊所) or an organisation
    allow_incomplete=True,  # 容缺受理: e.g. the fire plan may follow within 5 days
    supplement_days=5,
    description="主体登记（营利性）→ 并联：诊所备案、医废排污登记、消防核查"
    "（X 射线：辐射安全、放射诊疗审查 → 联合现场核查 → 并联决定）→ 民非登记（非营利性）→ 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《医疗机构管理条例》（2022 年修订）",
            "《诊所备案管理暂行办法》（国卫医政发〔2022〕33号）",
            "《中医诊所备案管理暂行办法》",
            "《医疗废物管理条例》",
            "《放射性同位素与射线装置安全和防护条例》",
            "《放射诊疗管理规定》",
            "《民办非企业单位登记管理暂行条例》",
            "《中华人民共和国行政许可法》第四十二条",
        ),
        statutory="《行政许可法》第四十二条：20 个工作日（辐射安全、放射诊疗许可）",
        promised="本地一链办理承诺：10 个工作日（登记 1 + 审查 3 + 核查 3 + 决定 2）",
        steps={
            "诊所备案": "《诊所备案管理暂行办法》：材料齐全的当场备案，30 日内现场核查（链外）",
            "营业执照登记": "《市场主体登记管理条例》第十九条",
            "辐射安全许可审查": "《放射性同位素与射线装置安全许可管理办法》：20 个工作日内审查",
            "放射诊疗许可审查": "《放射诊疗管理规定》第十五条：20 日内作出审查决定",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[ClinicForm]) -> None:
    form = case.form

    if form.needs_business_registration:
        await case.review("market", "营业执照登记", days=1)
        await case.issue("business_licence")

    reviews = [
        case.review("health", "中医诊所备案" if form.clinic_kind == "tcm" else "诊所备案", days=1),
        case.review("ecology", "医疗废物处置及排污登记", days=1),
        case.review("fire", "消防安全条件核查", days=2),
    ]
    if form.uses_xray:
        reviews.append(case.review("health", "放射诊疗许可审查", days=3))
        reviews.append(case.review("ecology", "辐射安全许可审查", days=3))
    await case.parallel("并联审查", *reviews)

    licences = ["clinic_filing", "pollutant_registration"]
    if form.uses_xray:
        await case.joint_survey(["health", "ecology"], "放射防护联合现场核查", days=3)
        await case.parallel(
            "并联决定",
            case.review("health", "放射诊疗许可决定", days=2),
            case.review("ecology", "辐射安全许可决定", days=2),
        )
        licences += ["radiodiagnosis_licence", "radiation_safety_licence"]

    if not form.for_profit:
        await case.review("civil_affairs", "民办非企业单位登记", days=1)
        licences.append("private_non_enterprise")
    await case.issue(*licences)
