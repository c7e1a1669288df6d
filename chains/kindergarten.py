"""我要开幼儿园 — open a kindergarten.

One form, one set of materials; education, fire rescue, health and market
regulation review in parallel, survey the site together once, decide in parallel;
civil affairs registers the school (it needs the education licence first); the
window issues everything at once. Promised 20 working days, statutory 45.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.steps import CaseContext


class KindergartenForm(BaseModel):
    """The one application form (一张表单)."""

    school_name: str = Field(
        min_length=2,
        max_length=100,
        description="幼儿园名称",
        examples=["济宁市启明幼儿园", "济宁市阳光幼儿园", "济宁市春苗幼儿园", "济宁市育才幼儿园"],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="办学地址",
        examples=[
            "济宁市汶上县仙营路 25 号",
            "济宁市任城区古槐路 1 号",
            "济宁市兖州区建设路 66 号",
            "济宁市嘉祥县红星路 12 号",
        ],
    )
    floor_area_m2: float = Field(
        gt=0, description="建筑面积（平方米）", examples=[1100, 1800, 2400, 3200]
    )
    planned_classes: int = Field(ge=1, le=60, description="计划班级数", examples=[8, 6, 9, 12])
    planned_children: int = Field(
        ge=1, le=2000, description="计划招生人数", examples=[200, 180, 270, 360]
    )
    has_canteen: bool = Field(default=True, description="是否自办食堂")


chain = Chain(
    code="kindergarten",
    name_zh="我要开幼儿园",
    name_en="Open a kindergarten",
    form=KindergartenForm,
    departments=("education", "fire", "health", "market", "civil_affairs"),
    materials=(
        Material("application", "一链办理申请表"),
        Material("sponsor_id", "举办者身份证明", e_licence="resident_id"),
        Material("premises_proof", "园舍产权或租赁证明"),
        Material("staff_list", "教职工名册及资格证明"),
        Material("fire_plan", "消防安全管理制度及平面图"),
        Material(
            "health_staff", "卫生保健人员资格证明", key=False, needed_for=("health_evaluation",)
        ),
        Material(
            "canteen_layout",
            "食堂布局流程图",
            key=False,
            commitment=True,
            verifier="market",
            required_if="has_canteen",
            needed_for=("food_business_licence",),
        ),
        Material("charter", "幼儿园章程"),
    ),
    licences=(
        LicenceType("school_permit", "民办学校办学许可证", "education"),
        LicenceType("fire_check", "公众聚集场所投入使用营业前消防安全检查合格证", "fire"),
        LicenceType("health_evaluation", "托幼机构卫生保健评价报告", "health"),
        LicenceType("food_business_licence", "食品经营许可证", "market"),
        LicenceType("private_non_enterprise", "民办非企业单位登记证书", "civil_affairs"),
    ),
    promised_days=20,
    statutory_days=45,
    allow_incomplete=True,
    supplement_days=10,
    description="并联初审 → 联合踏勘 → 并联决定 → 登记 → 统一出件",
    names_en={
        "并联初审": "Parallel preliminary review",
        "办学许可初审": "School permit: preliminary review",
        "消防安全检查初审": "Fire safety: preliminary review",
        "卫生保健初审": "Health care: preliminary review",
        "食品经营许可初审": "Food business: preliminary review",
        "联合踏勘": "Joint site survey",
        "并联决定": "Parallel decisions",
        "办学许可决定": "School permit decision",
        "消防安全检查决定": "Fire safety decision",
        "卫生保健评价": "Health care evaluation",
        "食品经营许可决定": "Food business decision",
        "民办非企业单位登记": "Private non-enterprise registration",
    },
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国民办教育促进法》第十二条、第十七条、第十九条（办学许可、登记）",
            "《幼儿园管理条例》第十一条、第十二条（举办幼儿园的审批）",
            "《托儿所幼儿园卫生保健管理办法》第七条（卫生保健评价）",
            "《中华人民共和国消防法》第十五条",
            "《中华人民共和国食品安全法》第三十五条（食品经营许可）",
            "《民办非企业单位登记管理暂行条例》",
            "《中华人民共和国行政许可法》第四十二条、第四十五条",
        ),
        statutory="《行政许可法》第四十二条第二款：统一办理、联合办理的 45 个工作日",
        promised="本地一链办理承诺：20 个工作日（初审 5 + 踏勘 3 + 决定 3 + 登记 3）",
        steps={
            "民办非企业单位登记": "《民办非企业单位登记管理暂行条例》：取得办学许可后登记",
            "卫生保健评价": "《托儿所幼儿园卫生保健管理办法》第七条：卫生保健评价报告",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[KindergartenForm]) -> None:
    canteen = case.form.has_canteen

    preliminary = [
        case.review("education", "办学许可初审", days=5),
        case.review("fire", "消防安全检查初审", days=5),
        case.review("health", "卫生保健初审", days=5),
    ]
    if canteen:
        preliminary.append(case.review("market", "食品经营许可初审", days=5))
    await case.parallel("并联初审", *preliminary)

    surveyors = ["education", "fire", "health"] + (["market"] if canteen else [])
    await case.joint_survey(surveyors, "联合踏勘", days=3)

    decisions = [
        case.review("education", "办学许可决定", days=3),
        case.review("fire", "消防安全检查决定", days=3),
        case.review("health", "卫生保健评价", days=3),
    ]
    if canteen:
        decisions.append(case.review("market", "食品经营许可决定", days=3))
    await case.parallel("并联决定", *decisions)

    await case.review("civil_affairs", "民办非企业单位登记", days=3)

    licences = ["school_permit", "fire_check", "health_evaluation", "private_non_enterprise"]
    if canteen:
        licences.append("food_business_licence")
    await case.issue(*licences)
