"""我要开游泳馆 — open a swimming venue (游泳场馆), indoor or outdoor.

What the flow is based on. The Qingdao seed (关于深化放管服改革进一步优化政务环境的意见,
2017, part (五)) asks for 全链条 handling in 体育; the steps follow the national rules:

* **Business licence first** (先照后证): market regulation registers the operator and
  the window issues the 营业执照 at once, unless the applicant already holds one (its
  e-licence then replaces the entity proof).
* **高危险性体育项目经营许可** (sports). Swimming is on the first list of high-risk
  sports (第一批高危险性体育项目目录, 2013). 《全民健身条例》 art. 32–33 and
  《经营高危险性体育项目许可管理办法》: the county sports bureau inspects the site
  (实地核查) and decides within 30 days — the statutory limit here, in working days.
  Lifeguards and 社会体育指导人员 are checked as materials.
* **公共场所卫生许可** (health). 游泳场（馆） are on the list of 《公共场所卫生管理条例》
  art. 2 and keep their hygiene licence (valid 4 years); water quality is checked on
  site.
* **Fire** (indoor venues only). An indoor swimming hall is a 体育场馆, so a 公众聚集场所
  needing the pre-opening fire-safety inspection (消防法 art. 15); an open-air pool
  is not.
* **Joint site survey.** Sports, health and — for an indoor hall — fire rescue visit
  the venue once, together, then decide in parallel.

Promised 10 working days (registration 1 + reviews 3 + survey 3 + decisions 2 = 9),
statutory 30. 告知承诺 where the rules allow it (safety rules and the fire plan are
checked afterwards by sports and fire rescue). An office must check all of this
against its local 实施清单 before using it.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.steps import CaseContext


class SwimmingVenueForm(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here."""

    venue_name: str = Field(
        min_length=2,
        max_length=100,
        description="场馆名称",
        examples=["济宁市任城区浪花游泳馆", "曲阜市碧水游泳池", "邹城市海豚游泳健身中心"],
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
    indoor: bool = Field(default=True, description="室内游泳馆（室外游泳池不需消防安全检查）")
    water_area_m2: float = Field(
        gt=0, le=20_000, description="水面面积（平方米）", examples=[500, 1250, 800]
    )
    lifeguards: int = Field(ge=1, le=500, description="救生员人数", examples=[4, 8, 6])
    existing_business_licence: bool = Field(
        default=False, description="已取得营业执照（不再办理主体登记）"
    )


chain = Chain(
    code="swimming_venue",
    name_zh="我要开游泳馆",
    name_en="Open a swimming venue",
    form=SwimmingVenueForm,
    departments=("sports", "health", "fire", "market"),
    materials=(
        Material("application", "一链办理申请表（高危险性体育项目经营许可申请书）"),
        Material("operator_id", "法定代表人（负责人）身份证明", e_licence="resident_id"),
        Material(
            "entity_proof",
            "主体资格证明（营业执照；新设立的提交名称自主申报告知书）",
            e_licence="business_licence",
        ),
        Material("premises_proof", "场馆产权证明或租赁合同"),
        Material("facilities", "游泳场所设施设备符合国家标准（GB 19079.1）的说明"),
        Material("lifeguard_certificates", "救生员、社会体育指导人员国家职业资格证书名单"),
        Material(
            "safety_rules",
            "安全保障制度、应急救护预案",
            key=False,
            commitment=True,
            verifier="sports",
            needed_for=("high_risk_sports_licence",),
        ),
        Material(
            "water_quality", "水质检测报告（GB 37488）", key=False, needed_for=("hygiene_licence",)
        ),
        Material(
            "staff_health", "从业人员健康合格证明", key=False, needed_for=("hygiene_licence",)
        ),
        Material(
            "fire_plan",
            "消防安全制度、疏散预案及消防设施检测报告",
            key=False,
            commitment=True,
            verifier="fire",
            required_if="indoor",
            needed_for=("fire_check",),
        ),
    ),
    licences=(
        LicenceType("business_licence", "营业执照", "market"),
        LicenceType("high_risk_sports_licence", "高危险性体育项目经营许可证（游泳）", "sports"),
        LicenceType("hygiene_licence", "公共场所卫生许可证", "health", valid_years=4),
        LicenceType("fire_check", "公众聚集场所投入使用、营业前消防安全检查合格证", "fire"),
    ),
    promised_days=10,
    statutory_days=30,
    applicant_kind="either",  # 个体工商户 (a person) or a company
    allow_incomplete=True,
    supplement_days=5,
    description="营业执照 → 并联审查（高危体育、卫生、室内消防）→ 联合踏勘 → 并联决定 → 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《全民健身条例》第三十二条、第三十三条",
            "《经营高危险性体育项目许可管理办法》",
            "《第一批高危险性体育项目目录》（2013 年）",
            "《公共场所卫生管理条例》第二条",
            "《中华人民共和国消防法》第十五条",
            "《市场主体登记管理条例》",
        ),
        statutory="《经营高危险性体育项目许可管理办法》：30 日内实地核查并作出决定，按 30 个工作日计",
        promised="本地一链办理承诺：10 个工作日（登记 1 + 审查 3 + 踏勘 3 + 决定 2）",
        steps={
            "公众聚集场所消防安全检查": "《消防法》第十五条：室内游泳馆属公众聚集场所",
            "营业执照登记": "《市场主体登记管理条例》第十九条",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[SwimmingVenueForm]) -> None:
    form = case.form

    if not form.existing_business_licence:
        await case.review("market", "营业执照登记", days=1)
        await case.issue("business_licence")

    reviews = [
        case.review("sports", "高危险性体育项目经营许可审查", days=3),
        case.review("health", "公共场所卫生许可审查", days=3),
    ]
    if form.indoor:
        reviews.append(case.review("fire", "公众聚集场所消防安全检查", days=3))
    await case.parallel("并联审查", *reviews)

    surveyors = ["sports", "health"] + (["fire"] if form.indoor else [])
    await case.joint_survey(surveyors, "联合踏勘（实地核查、水质检测）", days=3)

    decisions = [
        case.review("sports", "高危险性体育项目经营许可决定", days=2),
        case.review("health", "公共场所卫生许可决定", days=1),
    ]
    licences = ["high_risk_sports_licence", "hygiene_licence"]
    if form.indoor:
        decisions.append(case.review("fire", "消防安全检查决定", days=1))
        licences.append("fire_check")
    await case.parallel("并联决定", *decisions)
    await case.issue(*licences)
