"""我要开娱乐场所（KTV/网吧）— open an entertainment venue: a KTV (歌舞娱乐场所) or an
internet café (互联网上网服务营业场所).

What the flow is based on. The Qingdao seed (关于深化放管服改革进一步优化政务环境的意见,
2017, part (五)) asks for 全链条 handling in 文化; the steps follow the national rules:

* **Business licence first** (先照后证): market regulation registers the business and
  the window issues the 营业执照 at once, unless the applicant already holds one (its
  e-licence then replaces the entity proof).
* **The culture licence, by kind.** A KTV needs the 娱乐经营许可证 (《娱乐场所管理条例》
  art. 9, county culture & tourism bureau, decision within 20 days, after a site
  inspection); an internet café the 网络文化经营许可证 (《互联网上网服务营业场所管理条例》
  art. 11, decision within 20 working days after 实地检查).
* **Fire.** Both are 公共娱乐场所, so 公众聚集场所 and need the pre-opening fire-safety
  inspection (消防法 art. 15). Under 《公众聚集场所投入使用、营业消防安全检查规则》 the
  applicant may choose 告知承诺: the certificate is issued on the day (``days=0``) and
  fire rescue checks afterwards, so it does not join the joint inspection; otherwise
  fire rescue inspects with culture & tourism (3 + 1 days).
* **Public-place hygiene** (health). A KTV (歌舞厅) still needs the 公共场所卫生许可证
  (《公共场所卫生管理条例》, valid 4 years); an internet café is not on the list.
* **Joint site inspection.** Culture & tourism, and fire rescue and health where they
  inspect, visit the venue once, together, then decide in parallel.
* **Public security filing last.** 《娱乐场所管理条例》 art. 11: within 15 days of getting
  its licences a KTV files with the county public security bureau (治安备案); an
  internet café files its network-security technical measures. It needs the licences,
  so it runs after they are issued.

Promised 10 working days (registration 1 + reviews 3 + inspection 3 + decisions 2 +
filing 1), statutory 20 (the 20-day decision limits above). An office must check all
of this against its local 实施清单 before using it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import NO_FEES, LegalBasis
from workflows.material_conditions import FormIs
from workflows.steps import CaseContext

VenueKind = Literal["ktv", "internet_cafe"]


class EntertainmentForm(BaseModel):
    """The one application form (一张表单). Every field the flow branches on lives here."""

    venue_name: str = Field(
        min_length=2,
        max_length=100,
        description="场所名称（字号）",
        examples=["济宁市任城区金嗓子量贩式KTV", "曲阜市极速网咖", "邹城市欢唱KTV"],
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
    venue_kind: VenueKind = Field(
        default="ktv", description="场所类别：歌舞娱乐场所（KTV）/ 互联网上网服务营业场所（网吧）"
    )
    floor_area_m2: float = Field(
        gt=0, le=50_000, description="营业面积（平方米）", examples=[450, 300, 800]
    )
    rooms_or_terminals: int = Field(
        ge=1, le=5_000, description="包厢数（KTV）或计算机台数（网吧）", examples=[20, 120, 35]
    )
    existing_business_licence: bool = Field(
        default=False, description="已取得营业执照（不再办理主体登记）"
    )
    fire_commitment: bool = Field(
        default=False, description="消防安全检查选择告知承诺（当场发证，事后检查）"
    )

    @property
    def is_ktv(self) -> bool:
        return self.venue_kind == "ktv"


chain = Chain(
    code="entertainment",
    name_zh="我要开娱乐场所（KTV/网吧）",
    name_en="Open an entertainment venue (KTV / internet café)",
    form=EntertainmentForm,
    departments=("culture_tourism", "public_security", "fire", "health", "market"),
    materials=(
        Material("application", "一链办理申请表"),
        Material("operator_id", "法定代表人（负责人）身份证明", e_licence="resident_id"),
        Material(
            "entity_proof",
            "主体资格证明（营业执照；新设立的提交名称自主申报告知书）",
            e_licence="business_licence",
        ),
        Material("premises_proof", "经营场所产权证明或租赁合同"),
        Material("floor_plan", "场所平面图、包厢（机位）分布图"),
        Material("investor_statement", "投资人、负责人无《娱乐场所管理条例》第五条情形的书面声明"),
        Material(
            "fire_plan",
            "消防安全制度、疏散预案及消防设施检测报告",
            key=False,
            commitment=True,
            verifier="fire",
            needed_for=("fire_check",),
        ),
        Material(
            "hygiene_facilities",
            "卫生设施设备说明及从业人员健康合格证明",
            key=False,
            commitment=True,
            verifier="health",
            required_if=FormIs("venue_kind", "==", "ktv"),
            needed_for=("hygiene_licence",),
        ),
        Material(
            "network_security",
            "网络安全技术措施及实名登记系统说明",
            key=False,
            required_if=FormIs("venue_kind", "==", "internet_cafe"),
            needed_for=("internet_culture_licence", "public_security_filing"),
        ),
        Material(
            "cctv_plan",
            "视频监控系统安装说明（与公安机关联网）",
            key=False,
            needed_for=("public_security_filing",),
        ),
    ),
    licences=(
        LicenceType("business_licence", "营业执照", "market"),
        LicenceType("entertainment_licence", "娱乐经营许可证", "culture_tourism"),
        LicenceType("internet_culture_licence", "网络文化经营许可证", "culture_tourism"),
        LicenceType("fire_check", "公众聚集场所投入使用、营业前消防安全检查合格证", "fire"),
        LicenceType("hygiene_licence", "公共场所卫生许可证", "health", valid_years=4),
        LicenceType(
            "public_security_filing", "娱乐场所（上网服务场所）公安备案回执", "public_security"
        ),
    ),
    promised_days=10,
    statutory_days=20,
    applicant_kind="either",  # 个体工商户 (a person) or a company
    allow_incomplete=True,
    supplement_days=5,
    description="营业执照 → 并联审查（文化经营许可、消防、KTV 卫生许可）→ 联合现场勘验"
    " → 并联决定 → 出件 → 公安备案",
    legal_basis=LegalBasis(
        laws=(
            "《娱乐场所管理条例》第九条、第十一条",
            "《互联网上网服务营业场所管理条例》第十一条",
            "《中华人民共和国消防法》第十五条",
            "《公众聚集场所投入使用、营业消防安全检查规则》（告知承诺）",
            "《公共场所卫生管理条例》",
            "《市场主体登记管理条例》",
        ),
        statutory="《娱乐场所管理条例》第九条：20 日内作出决定；《互联网上网服务营业场所管理条例》第十一条：20 个工作日内作出决定",
        promised="本地一链办理承诺：10 个工作日（登记 1 + 审查 3 + 检查 3 + 决定 2 + 备案 1）",
        steps={
            "公众聚集场所消防安全检查（告知承诺）": "《公众聚集场所投入使用、营业消防安全检查规则》：告知承诺当场发证，事后检查",
            "公众聚集场所消防安全检查": "《消防法》第十五条：自受理之日起 10 个工作日内检查",
            "营业执照登记": "《市场主体登记管理条例》第十九条",
        },
    ),
    fees=NO_FEES,
)


@chain.flow(version=1)
async def flow(case: CaseContext[EntertainmentForm]) -> None:
    form = case.form
    licence = "entertainment_licence" if form.is_ktv else "internet_culture_licence"
    licence_name = "娱乐经营许可" if form.is_ktv else "网络文化经营许可"

    if not form.existing_business_licence:
        await case.review("market", "营业执照登记", days=1)
        await case.issue("business_licence")

    reviews = [case.review("culture_tourism", f"{licence_name}审查", days=3)]
    if form.fire_commitment:
        reviews.append(case.review("fire", "公众聚集场所消防安全检查（告知承诺）", days=0))
    else:
        reviews.append(case.review("fire", "公众聚集场所消防安全检查", days=3))
    if form.is_ktv:
        reviews.append(case.review("health", "公共场所卫生许可审查", days=3))
    await case.parallel("并联审查", *reviews)

    inspectors = ["culture_tourism"]
    if not form.fire_commitment:
        inspectors.append("fire")
    if form.is_ktv:
        inspectors.append("health")
    survey = "联合现场勘验" if len(inspectors) > 1 else "实地检查"
    await case.joint_survey(inspectors, survey, days=3)

    decisions = [case.review("culture_tourism", f"{licence_name}决定", days=2)]
    if not form.fire_commitment:
        decisions.append(case.review("fire", "消防安全检查决定", days=1))
    if form.is_ktv:
        decisions.append(case.review("health", "公共场所卫生许可决定", days=1))
    await case.parallel("并联决定", *decisions)

    licences = [licence, "fire_check"]
    if form.is_ktv:
        licences.append("hygiene_licence")
    await case.issue(*licences)

    filing = "娱乐场所治安备案" if form.is_ktv else "上网服务场所网络安全技术措施备案"
    await case.review("public_security", filing, days=1)
    await case.issue("public_security_filing")
