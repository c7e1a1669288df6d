"""我要办培训学校 — open a private training school (民办培训学校, 非学历教育).

What the flow is based on. The Qingdao seed (关于深化放管服改革进一步优化政务环境的意见,
2017, part (五)) asks for 全链条 handling in 教育; the steps follow the national rules:

* **办学许可 by kind of training.** 《民办教育促进法》 art. 12 and its 实施条例 (2021):
  culture-and-education training is licensed by education; vocational-skills training
  by human resources & social security (《民办职业培训学校设立、分立、合并、变更及终止
  审批暂行办法》). Since the 2021–2022 national rules on 校外培训 (非学科类校外培训机构的
  主管部门), arts training for children answers to culture & tourism and sports
  training to sports; no new 学科类 training for school pupils is licensed at all, so
  the form has no such kind. The licensing department and fire rescue review the
  application in parallel, inspect the premises together (联合踏勘), and the
  licensing department decides.
* **Registration after the licence.** The 办学许可证 comes first (民办教育促进法 art.
  19): a non-profit school then registers with civil affairs (民办非企业单位), a
  for-profit one with market regulation (营业执照). The permit is issued before the
  registration starts: the registration relies on it as an e-licence.
* **Fire.** A training school is not a 公众聚集场所; fire rescue checks the premises'
  fire-safety conditions (a 办学条件 the licensing department needs) and gives its
  opinion.

Limits: the law gives the licensing department three months for a formal
establishment (民办教育促进法 art. 17); counted here as 60 working days. Promised 15
(reviews 5 + survey 3 + decision 3 + registration up to 3 = 14). 告知承诺 where the
rules allow it (the school's rules and fire-safety rules are checked afterwards). An
office must check all of this against its local 实施清单 before using it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.steps import CaseContext

TrainingKind = Literal["culture_education", "vocational_skills", "arts", "sports"]

#: Who licenses each kind of training, and the permit it issues.
LICENSING: dict[str, tuple[str, str]] = {
    "culture_education": ("education", "school_permit"),
    "vocational_skills": ("hrss", "vocational_school_permit"),
    "arts": ("culture_tourism", "arts_training_permit"),
    "sports": ("sports", "sports_training_permit"),
}


class TrainingSchoolForm(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here."""

    school_name: str = Field(
        min_length=2,
        max_length=100,
        description="学校名称",
        examples=[
            "济宁市任城区勤学教育培训学校",
            "济宁市匠心职业技能培训学校",
            "曲阜市墨韵书画艺术培训学校",
            "邹城市飞跃体育培训学校",
        ],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="办学地址",
        examples=[
            "济宁市任城区古槐路 18 号",
            "济宁市高新区崇文大道 1 号",
            "济宁市曲阜市鼓楼大街 9 号",
            "济宁市邹城市太白楼路 12 号",
        ],
    )
    training_kind: TrainingKind = Field(
        default="culture_education",
        description="培训类别：文化教育类（面向成人或非学科类）/ 职业技能类 / 文化艺术类 / 体育类",
    )
    floor_area_m2: float = Field(
        gt=0, le=100_000, description="建筑面积（平方米）", examples=[500, 1200, 300, 800]
    )
    planned_students: int = Field(
        ge=1, le=20_000, description="计划培训规模（人）", examples=[200, 500, 120, 300]
    )
    for_profit: bool = Field(
        default=False,
        description="营利性培训学校（营利性办理营业执照，非营利性办理民办非企业单位登记）",
    )


#: The permits a school's own documents are needed for (one per training kind).
TRAINING_PERMITS = (
    "school_permit",
    "vocational_school_permit",
    "arts_training_permit",
    "sports_training_permit",
)

chain = Chain(
    code="training_school",
    name_zh="我要办培训学校",
    name_en="Open a training school",
    form=TrainingSchoolForm,
    departments=(
        "education",
        "hrss",
        "culture_tourism",
        "sports",
        "fire",
        "civil_affairs",
        "market",
    ),
    materials=(
        Material("application", "一链办理申请表（办学申请报告）"),
        Material("sponsor_id", "举办者（法定代表人）身份证明", e_licence="resident_id"),
        Material(
            "sponsor_entity",
            "举办者主体资格证明（法人举办的提交营业执照）",
            key=False,
            e_licence="business_licence",
            form_hint="由法人举办时提交",
            needed_for=TRAINING_PERMITS,
        ),
        Material("charter", "学校章程和首届理事会（董事会）组成人员名单"),
        Material("principal", "拟任校长（行政负责人）基本情况及身份证明"),
        Material("teachers", "教师名册及资格（职业资格、技能等级）证明"),
        Material("premises_proof", "办学场所产权证明或租赁合同（租期不少于 3 年）"),
        Material("funds_proof", "资产及经费来源证明（验资报告）"),
        Material(
            "school_rules",
            "教学计划、培训大纲和内部管理制度",
            key=False,
            commitment=True,
            verifier="education",
            needed_for=TRAINING_PERMITS,
        ),
        Material(
            "fire_rules",
            "消防安全管理制度及疏散平面图",
            key=False,
            commitment=True,
            verifier="fire",
            needed_for=("fire_safety_opinion",),
        ),
    ),
    licences=(
        LicenceType("school_permit", "民办学校办学许可证", "education"),
        LicenceType("vocational_school_permit", "民办职业培训学校办学许可证", "hrss"),
        LicenceType("arts_training_permit", "文化艺术类校外培训机构办学许可证", "culture_tourism"),
        LicenceType("sports_training_permit", "体育类校外培训机构办学许可证", "sports"),
        LicenceType("fire_safety_opinion", "消防安全检查意见书", "fire"),
        LicenceType("private_non_enterprise", "民办非企业单位登记证书", "civil_affairs"),
        LicenceType("business_licence", "营业执照", "market"),
    ),
    promised_days=15,
    statutory_days=60,
    applicant_kind="either",  # a person or an organisation may sponsor a school
    allow_incomplete=True,
    supplement_days=5,
    description="并联审查（办学许可、消防）→ 联合踏勘 → 办学许可决定（先出证）→ 民非或企业登记 → 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国民办教育促进法》第十二条、第十七条、第十九条",
            "《中华人民共和国民办教育促进法实施条例》（2021 年）",
            "《民办职业培训学校设立、分立、合并、变更及终止审批暂行办法》",
            "校外培训主管部门的规定（非学科类：文化和旅游、体育）",
            "《民办非企业单位登记管理暂行条例》",
            "《市场主体登记管理条例》",
        ),
        statutory="《民办教育促进法》第十七条：正式设立 3 个月内作出决定，按 60 个工作日计",
        promised="本地一链办理承诺：15 个工作日（审查 5 + 踏勘 3 + 决定 3 + 登记 3）",
        steps={
            "民办非企业单位登记": "《民办教育促进法》第十九条：非营利性取得办学许可证后登记",
            "营利性民办学校登记（营业执照）": "《民办教育促进法》第十九条：营利性到市场监管部门登记",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[TrainingSchoolForm]) -> None:
    form = case.form
    licensing, permit = LICENSING[form.training_kind]

    await case.parallel(
        "并联审查",
        case.review(licensing, "办学许可审查", days=5),
        case.review("fire", "消防安全条件核查", days=5),
    )
    await case.joint_survey([licensing, "fire"], "联合踏勘", days=3)
    await case.parallel(
        "许可决定",
        case.review(licensing, "办学许可决定", days=3),
        case.review("fire", "消防安全检查意见", days=1),
    )
    await case.issue(permit, wait=True)  # registration needs the permit

    if form.for_profit:
        await case.review("market", "营利性民办学校登记（营业执照）", days=1)
        registration = "business_licence"
    else:
        await case.review("civil_affairs", "民办非企业单位登记", days=3)
        registration = "private_non_enterprise"
    await case.issue("fire_safety_opinion", registration)
