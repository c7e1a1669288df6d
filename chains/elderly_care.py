"""我要开养老机构 — open an elderly-care institution (养老院、敬老院、护理院式养老机构).

What the flow is based on. The Qingdao seed (关于深化放管服改革进一步优化政务环境的意见,
2017, part (五)) asks for 全链条 handling in 养老; the steps follow the national rules:

* **Registration first.** Since the 2018 《老年人权益保障法》 amendment there is no
  设立许可: the institution registers as a legal person and then files with civil
  affairs (《养老机构管理办法》, 民政部令第 66 号, art. 9). A non-profit one registers
  with civil affairs as a 民办非企业单位 (社会服务机构); a for-profit one with market
  regulation (营业执照) — unless the applicant already holds a business licence, whose
  e-licence then replaces the entity proof. The registration certificate is issued at
  once: the filing relies on it.
* **养老机构备案** (civil affairs), with fire rescue checking fire safety (the 民政部、
  应急管理部 rules on 养老机构消防安全) in the same parallel stage.
* **Embedded medical room** (only when the form says so). A 医务室 or 护理站 inside an
  elderly-care institution is filed, not licensed (国卫办老龄发〔2019〕17号, 医养结合机构
  审批登记): health takes the 医疗机构执业备案.
* **Canteen** (only when the form says so). A canteen serving residents is a 单位食堂
  and needs the 食品经营许可证 (market, 《食品经营许可和备案管理办法》, valid 5 years).
* **Joint site survey.** Civil affairs, fire rescue and — where they take part — health
  and market inspect the premises once, together, then decide in parallel.

Promised 10 working days (registration up to 3 + reviews 3 + survey 3 + decisions 1),
statutory 20 (行政许可法 art. 42). 告知承诺 where the rules allow it (the service rules,
the fire-safety rules and the canteen's food-safety rules are checked afterwards by
the department named). An office must check all of this against its local 实施清单.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.material_conditions import FormIs
from workflows.steps import CaseContext


class ElderlyCareForm(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here."""

    institution_name: str = Field(
        min_length=2,
        max_length=100,
        description="养老机构名称",
        examples=["济宁市任城区福寿康养老院", "曲阜市颐和养老中心", "邹城市夕阳红敬老院"],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="服务场所地址",
        examples=[
            "济宁市任城区古槐路 18 号",
            "济宁市曲阜市鼓楼大街 9 号",
            "济宁市邹城市太白楼路 12 号",
        ],
    )
    floor_area_m2: float = Field(
        gt=0, le=200_000, description="建筑面积（平方米）", examples=[1200, 800, 3500]
    )
    beds: int = Field(ge=1, le=5_000, description="养老床位数", examples=[60, 30, 150])
    for_profit: bool = Field(
        default=False,
        description="营利性养老机构（营利性办理营业执照，非营利性办理民办非企业单位登记）",
    )
    existing_business_licence: bool = Field(
        default=False, description="已取得营业执照（营利性养老机构不再办理主体登记）"
    )
    has_medical_room: bool = Field(default=False, description="内设医务室或护理站")
    has_canteen: bool = Field(default=True, description="自办食堂（向入住老人供餐）")


chain = Chain(
    code="elderly_care",
    name_zh="我要开养老机构",
    name_en="Open an elderly-care institution",
    form=ElderlyCareForm,
    departments=("civil_affairs", "fire", "health", "market"),
    materials=(
        Material("application", "一链办理申请表（养老机构备案书）"),
        Material("sponsor_id", "举办者（法定代表人）身份证明", e_licence="resident_id"),
        Material(
            "entity_proof",
            "主体资格证明（营业执照；新设立的提交名称自主申报告知书或名称核准通知书）",
            e_licence="business_licence",
        ),
        Material(
            "charter",
            "章程（非营利性养老机构登记用）",
            key=False,
            required_if=FormIs("for_profit", "==", False),
            needed_for=("private_non_enterprise",),
        ),
        Material("premises_proof", "服务场所产权证明或租赁合同（租期不少于 5 年）"),
        Material("building_safety", "建筑消防验收或备案凭证、房屋安全鉴定证明"),
        Material("staff_list", "管理人员、专业技术人员和护理人员名册及资格证明"),
        Material(
            "service_rules",
            "服务规范、安全管理和应急预案等制度",
            key=False,
            commitment=True,
            verifier="civil_affairs",
            needed_for=("elderly_care_filing",),
        ),
        Material(
            "fire_rules",
            "消防安全管理制度及疏散预案",
            key=False,
            commitment=True,
            verifier="fire",
            needed_for=("fire_safety_opinion",),
        ),
        Material(
            "medical_room",
            "医务室（护理站）设置说明、医护人员执业证书",
            key=False,
            required_if="has_medical_room",
            needed_for=("medical_room_filing",),
        ),
        Material(
            "canteen_rules",
            "食堂布局流程图及食品安全管理制度",
            key=False,
            commitment=True,
            verifier="market",
            required_if="has_canteen",
            needed_for=("food_business_licence",),
        ),
    ),
    licences=(
        LicenceType("business_licence", "营业执照", "market"),
        LicenceType("private_non_enterprise", "民办非企业单位登记证书", "civil_affairs"),
        LicenceType("elderly_care_filing", "养老机构备案回执", "civil_affairs"),
        LicenceType("fire_safety_opinion", "消防安全检查意见书", "fire"),
        LicenceType("medical_room_filing", "医疗机构执业备案凭证（内设医务室）", "health"),
        LicenceType("food_business_licence", "食品经营许可证（单位食堂）", "market", valid_years=5),
    ),
    promised_days=10,
    statutory_days=20,
    applicant_kind="either",
    allow_incomplete=True,  # 容缺受理: e.g. the canteen's rules may follow within 5 days
    supplement_days=5,
    description="法人登记（民非或营业执照）→ 并联审查（备案、消防，医务室、食堂）→ 联合踏勘"
    " → 并联决定 → 统一出件",
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国老年人权益保障法》（2018 年修正，取消设立许可）",
            "《养老机构管理办法》（民政部令第 66 号）第九条（备案）",
            "《民办非企业单位登记管理暂行条例》",
            "《市场主体登记管理条例》",
            "民政部、应急管理部关于养老机构消防安全的规定",
            "《关于做好医养结合机构审批登记工作的通知》（国卫办老龄发〔2019〕17号）",
            "《食品经营许可和备案管理办法》",
            "《中华人民共和国行政许可法》第四十二条",
        ),
        statutory="《行政许可法》第四十二条：20 个工作日（食品经营许可等）",
        promised="本地一链办理承诺：10 个工作日（登记 3 + 审查 3 + 踏勘 3 + 决定 1）",
        steps={
            "养老机构备案": "《养老机构管理办法》第九条：登记后向民政部门备案",
            "内设医务室执业备案": "国卫办老龄发〔2019〕17号：内设医务室、护理站实行备案",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[ElderlyCareForm]) -> None:
    form = case.form

    if not form.for_profit:
        await case.review("civil_affairs", "民办非企业单位登记", days=3)
        await case.issue("private_non_enterprise", wait=True)  # the filing relies on it
    elif not form.existing_business_licence:
        await case.review("market", "营业执照登记", days=1)
        await case.issue("business_licence", wait=True)

    departments = ["civil_affairs", "fire"]
    if form.has_medical_room:
        departments.append("health")
    if form.has_canteen:
        departments.append("market")

    reviews = [
        case.review("civil_affairs", "养老机构备案审查", days=3),
        case.review("fire", "消防安全检查", days=3),
    ]
    if form.has_medical_room:
        reviews.append(case.review("health", "内设医务室执业备案审查", days=3))
    if form.has_canteen:
        reviews.append(case.review("market", "食品经营许可审查（单位食堂）", days=3))
    await case.parallel("并联审查", *reviews)

    await case.joint_survey(departments, "联合踏勘", days=3)

    decisions = [
        case.review("civil_affairs", "养老机构备案", days=1),
        case.review("fire", "消防安全检查意见", days=1),
    ]
    licences = ["elderly_care_filing", "fire_safety_opinion"]
    if form.has_medical_room:
        decisions.append(case.review("health", "内设医务室执业备案", days=1))
        licences.append("medical_room_filing")
    if form.has_canteen:
        decisions.append(case.review("market", "食品经营许可决定", days=1))
        licences.append("food_business_licence")
    await case.parallel("并联决定", *decisions)
    await case.issue(*licences)
