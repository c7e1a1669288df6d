"""我要开药店 — open a retail pharmacy (药品零售企业, 单体药店).

What the flow is based on. The Qingdao seed (关于深化放管服改革进一步优化政务环境的意见,
2017, parts (五) and 三(五)) asks for 全链条 handling in 医疗 and names 食品药品 among the
high-risk fields whose supervision must be strict; the steps follow the national rules:

* **Business licence first** (先照后证): market regulation registers the business and
  the window issues the 营业执照 at once (《市场主体登记管理条例》 art. 19: on the spot,
  otherwise within 3 working days), unless the applicant already holds one (its
  e-licence then replaces the entity proof).
* **药品经营许可证** (drug retail licence). 《药品管理法》 art. 51–53: a retail pharmacy
  needs the licence of the county-level drug administration — in a county or district
  the 市场监管局 — which checks the premises, the storage and the 执业药师 on site
  (现场检查) and decides within 20 working days (《药品经营和使用质量监督管理办法》,
  2023 年市场监管总局令第 84 号). The licence is valid 5 years. Selling prescription
  drugs needs at least one 执业药师 on the staff (the form's rule across fields).
* **第二类医疗器械经营备案** (only when the form says it sells devices). 《医疗器械监督
  管理条例》 art. 41–42: a filing, not a licence — done on the spot (``days=0``) in the
  same parallel stage; the filing slip is handed out as soon as that stage ends.
* **Signboard.** Urban management decides a simple shop signboard at the window on
  the day (as in 我要开饭店).

Promised 10 working days (registration 1 + review 3 + inspection 3 + decision 2 = 9),
statutory 20. 告知承诺 where the rules allow it (the quality-management rules are
checked afterwards by market regulation). An office must check all of this against
its local 实施清单 before using it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, model_validator

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.material_conditions import FormIs
from workflows.steps import CaseContext


class PharmacyForm(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here."""

    shop_name: str = Field(
        min_length=2,
        max_length=100,
        description="药店名称（字号）",
        examples=["济宁市任城区仁心大药房", "曲阜市济民药店", "邹城市康泰大药房"],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="经营场所地址",
        examples=[
            "济宁市任城区古槐路 18 号",
            "济宁市曲阜市鼓楼大街 9 号",
            "济宁市邹城市太白楼路 12 号",
        ],
    )
    floor_area_m2: float = Field(
        gt=0, le=5_000, description="营业面积（平方米）", examples=[80, 120, 300]
    )
    licensed_pharmacists: int = Field(ge=0, le=50, description="执业药师人数", examples=[1, 2, 3])
    sells_prescription_drugs: bool = Field(default=True, description="经营处方药")
    sells_medical_devices: bool = Field(
        default=False, description="经营第二类医疗器械（办理经营备案）"
    )
    existing_business_licence: bool = Field(
        default=False, description="已取得营业执照（不再办理主体登记）"
    )

    @model_validator(mode="after")
    def _prescriptions_need_a_pharmacist(self) -> PharmacyForm:
        # 《药品经营质量管理规范》: a pharmacy selling prescription drugs has a 执业药师
        # to check every prescription.
        if self.sells_prescription_drugs and self.licensed_pharmacists < 1:
            raise ValueError("经营处方药的药店应至少配备 1 名执业药师")
        return self


chain = Chain(
    code="pharmacy",
    name_zh="我要开药店",
    name_en="Open a pharmacy",
    form=PharmacyForm,
    departments=("market", "urban"),
    materials=(
        Material("application", "一链办理申请表（药品经营许可申请表）"),
        Material("operator_id", "法定代表人（企业负责人）身份证明", e_licence="resident_id"),
        Material(
            "entity_proof",
            "主体资格证明（营业执照；新设立的提交名称自主申报告知书）",
            e_licence="business_licence",
        ),
        Material("premises_proof", "经营场所产权证明或租赁合同、平面布局图"),
        Material("pharmacist_certs", "执业药师注册证及药学技术人员资格证明"),
        Material("equipment_list", "设施设备目录（阴凉柜、温湿度监测、计算机系统）"),
        Material(
            "quality_rules",
            "药品质量管理制度（GSP 文件）",
            key=False,
            commitment=True,
            verifier="market",
            needed_for=("drug_business_licence",),
        ),
        Material(
            "device_filing_form",
            "第二类医疗器械经营备案表及经营范围目录",
            key=False,
            required_if=FormIs("sells_medical_devices"),
            needed_for=("device_business_filing",),
        ),
        Material(
            "signboard_design",
            "门头牌匾设计效果图",
            key=False,
            needed_for=("signboard_approval",),
        ),
    ),
    licences=(
        LicenceType("business_licence", "营业执照", "market"),
        LicenceType("drug_business_licence", "药品经营许可证（零售）", "market", valid_years=5),
        LicenceType("device_business_filing", "第二类医疗器械经营备案凭证", "market"),
        LicenceType("signboard_approval", "门头牌匾设置审核意见书", "urban"),
    ),
    promised_days=10,
    statutory_days=20,
    applicant_kind="either",
    allow_incomplete=True,  # 容缺受理: the GSP documents may follow within 5 days
    supplement_days=5,
    description="营业执照登记 → 并联审查（药品经营许可、医疗器械备案、门头牌匾）→ 现场检查"
    " → 许可决定 → 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国药品管理法》第五十一条至第五十三条（药品经营许可）",
            "《药品经营和使用质量监督管理办法》（2023 年国家市场监督管理总局令第 84 号）",
            "《药品经营质量管理规范》（GSP）",
            "《医疗器械监督管理条例》第四十一条、第四十二条（第二类医疗器械经营备案）",
            "《市场主体登记管理条例》第十九条",
            "《中华人民共和国行政许可法》第四十二条",
        ),
        statutory="《药品经营和使用质量监督管理办法》：药品零售经营许可自受理之日起 20 个工作日内"
        "作出决定（含现场检查）",
        promised="本地一链办理承诺：10 个工作日（登记 1 + 审查 3 + 现场检查 3 + 决定 2）",
        steps={
            "营业执照登记": "《市场主体登记管理条例》第十九条：当场登记，不能当场的 3 个工作日内",
            "第二类医疗器械经营备案": "《医疗器械监督管理条例》第四十二条：备案材料齐全的当场备案",
            "药品经营现场检查": "《药品经营和使用质量监督管理办法》：许可前组织现场检查",
            "门头牌匾设置（窗口当场办结）": "当地户外广告和招牌设置管理规定：简易招牌即办",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[PharmacyForm]) -> None:
    form = case.form
    if not form.existing_business_licence:
        await case.review("market", "营业执照登记", days=1)
        await case.issue("business_licence")

    reviews = [
        case.review("market", "药品经营许可审查", days=3),
        case.review("urban", "门头牌匾设置（窗口当场办结）", days=0),
    ]
    if form.sells_medical_devices:
        reviews.append(case.review("market", "第二类医疗器械经营备案", days=0))
    await case.parallel("并联审查", *reviews)
    if form.sells_medical_devices:  # a filing stands on its own: handed out at once
        await case.issue("device_business_filing")

    await case.joint_survey(["market"], "药品经营现场检查", days=3)
    await case.review("market", "药品经营许可决定", days=2)

    await case.issue("drug_business_licence", "signboard_approval")
