"""我要开饭店 — open a restaurant.

One form, one set of materials. Market regulation registers the business (营业执照,
即办) and then decides the food business licence (食品经营许可); at the same time
fire rescue checks large premises only, urban management decides the shop
signboard (门头牌匾) and ecology & environment takes the cooking-fume filing
(油烟排放备案). The window issues everything at once. Promised 5 working days,
statutory 20 (行政许可法 art. 42, one window acting for each authority).

Conditions on the form:

* **Large premises** (营业面积 over 300 m² or more than 100 seats) need the fire
  safety check before opening (公众聚集场所投入使用、营业前消防安全检查); small ones
  do not.
* **Signboard.** The seeds: simple signboards are judged at the window on experience
  and decided on the spot; only complex ones (rooftop, oversized, projecting, lit…)
  get a site survey first. So a simple signboard is a same-day (``days=0``) urban
  review, a complex one a site survey followed by a one-day decision.
* **Existing business.** An applicant that already holds a business licence (an
  e-licence, e.g. from the 企业开办 chain) is not registered again: the licence
  replaces the entity material and no new 营业执照 is issued.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.material_conditions import AnyOf, FormIs
from workflows.steps import CaseContext, StepResult

LARGE_FLOOR_AREA_M2 = 300
LARGE_SEATS = 100


class RestaurantForm(BaseModel):
    """The one application form (一张表单)."""

    shop_name: str = Field(
        min_length=2,
        max_length=100,
        description="店铺名称（字号）",
        examples=["董记鲁菜馆", "老王水饺馆", "孔府家宴", "运河羊肉汤馆"],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="经营场所地址",
        examples=[
            "济宁市曲阜市运河路 204 号",
            "济宁市任城区红星路 8 号",
            "济宁市曲阜市鼓楼大街 9 号",
            "济宁市微山县湖滨路 77 号",
        ],
    )
    floor_area_m2: float = Field(
        gt=0, le=100_000, description="营业面积（平方米）", examples=[60, 120, 260, 450]
    )
    seats: int = Field(ge=0, le=5_000, description="就餐座位数", examples=[20, 40, 90, 160])
    existing_business_licence: bool = Field(
        default=False, description="已取得营业执照（仅新增餐饮经营，不再办理主体登记）"
    )
    signboard_text: str = Field(
        min_length=1,
        max_length=50,
        description="门头牌匾文字",
        examples=["董记鲁菜馆", "老王水饺", "孔府家宴", "运河羊肉汤"],
    )
    signboard_complex: bool = Field(
        default=False,
        description="门头牌匾情形复杂（楼顶、超大面积、外挑、亮化等，需现场勘查）",
    )

    @property
    def large_premises(self) -> bool:
        return self.floor_area_m2 > LARGE_FLOOR_AREA_M2 or self.seats > LARGE_SEATS


chain = Chain(
    code="restaurant",
    name_zh="我要开饭店",
    name_en="Open a restaurant",
    form=RestaurantForm,
    departments=("market", "fire", "urban", "ecology"),
    materials=(
        Material("application", "一链办理申请表"),
        Material("operator_id", "经营者（法定代表人）身份证明", e_licence="resident_id"),
        Material(
            "entity_proof",
            "主体资格证明（营业执照；新设立的提交名称自主申报告知书）",
            e_licence="business_licence",
        ),
        Material("premises_proof", "经营场所使用证明（产权证明或租赁合同）"),
        Material("kitchen_layout", "经营场所平面布局图及设备布局、操作流程"),
        Material(
            "food_safety_rules",
            "食品安全管理制度",
            key=False,
            commitment=True,
            verifier="market",
            needed_for=("food_business_licence",),
        ),
        Material(
            "staff_health", "从业人员健康证明", key=False, needed_for=("food_business_licence",)
        ),
        Material(
            "fire_plan",
            "消防安全制度及疏散平面图",
            key=False,
            commitment=True,
            verifier="fire",
            required_if=AnyOf(
                FormIs("floor_area_m2", ">", LARGE_FLOOR_AREA_M2), FormIs("seats", ">", LARGE_SEATS)
            ),
            needed_for=("fire_check",),
        ),
        Material("signboard_design", "门头牌匾设计效果图（位置、尺寸、材质）"),
        Material(
            "fume_equipment",
            "油烟净化设施安装说明",
            key=False,
            commitment=True,
            verifier="ecology",
            needed_for=("fume_filing",),
        ),
    ),
    licences=(
        LicenceType("business_licence", "营业执照", "market"),
        LicenceType("food_business_licence", "食品经营许可证", "market"),
        LicenceType("fire_check", "公众聚集场所投入使用、营业前消防安全检查合格证", "fire"),
        LicenceType("signboard_approval", "门头牌匾设置审核意见书", "urban"),
        LicenceType("fume_filing", "餐饮油烟排放备案回执", "ecology"),
    ),
    promised_days=5,
    statutory_days=20,
    applicant_kind="either",  # 个体工商户 (a person) or a company
    allow_incomplete=True,  # 容缺受理: e.g. health certificates may follow within 5 days
    supplement_days=5,
    description="主体登记 → 食品经营许可，并联：消防（大型场所）、门头牌匾、油烟备案 → 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国食品安全法》第三十五条（食品经营许可）",
            "《食品经营许可和备案管理办法》（2023 年国家市场监督管理总局令第 78 号）",
            "《中华人民共和国消防法》第十五条（公众聚集场所投入使用、营业前消防安全检查）",
            "《中华人民共和国大气污染防治法》第八十一条（餐饮油烟）",
            "《市场主体登记管理条例》第十九条",
            "当地户外广告和招牌设置管理规定",
            "《中华人民共和国行政许可法》第四十二条",
        ),
        statutory="《行政许可法》第四十二条：一个行政机关 20 个工作日（一窗代各机关受理）",
        promised="本地一链办理承诺：5 个工作日",
        steps={
            "营业执照登记": "《市场主体登记管理条例》第十九条：当场登记",
            "食品经营许可审查": "《食品经营许可和备案管理办法》：10 个工作日内作出决定，本地承诺 3 个工作日",
            "公众聚集场所消防安全检查": "《消防法》第十五条：自受理之日起 10 个工作日内检查，本地承诺 3 个工作日",
            "门头牌匾设置（窗口当场办结）": "当地户外广告和招牌设置管理规定：简易招牌即办",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[RestaurantForm]) -> None:
    form = case.form

    async def market() -> StepResult:
        if not form.existing_business_licence:
            await case.review("market", "营业执照登记", days=0)
        return await case.review("market", "食品经营许可审查", days=3)

    async def signboard() -> StepResult:
        if form.signboard_complex:
            await case.joint_survey(["urban"], "门头牌匾现场勘查", days=2)
            return await case.review("urban", "门头牌匾设置审批", days=1)
        return await case.review("urban", "门头牌匾设置（窗口当场办结）", days=0)

    steps = [market(), signboard(), case.review("ecology", "餐饮油烟排放备案", days=1)]
    if form.large_premises:
        steps.append(case.review("fire", "公众聚集场所消防安全检查", days=3))
    await case.parallel("并联审批", *steps)

    licences = ["food_business_licence", "signboard_approval", "fume_filing"]
    if not form.existing_business_licence:
        licences.insert(0, "business_licence")
    if form.large_premises:
        licences.append("fire_check")
    await case.issue(*licences)
