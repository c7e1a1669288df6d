"""工程建设项目施工许可 — from project approval to construction permit, then joint
acceptance on completion.

The "3540" promise for construction projects: drawings reviewed in 7 working days,
evaluations done in 35, construction permit within 40 working days of approval.

1. Natural resources & planning issues the land-use planning permit (建设用地规划许可).
2. In parallel (工程建设许可阶段): the project planning permit (建设工程规划许可);
   one 多图联审 joint drawing review by planning, fire, civil air defence and housing
   (7 working days); one 多评合一 combined evaluation by environment, water & soil,
   seismic and traffic (35 working days).
3. Housing & construction issues the construction permit (施工许可), and the window
   issues the four permits at once.
4. The case then waits, with its clock stopped, until the window records the
   applicant's notice of completion (竣工验收申请, event ``construction_completed``).
5. One 联合验收 joint acceptance by planning, fire, civil air defence, quality
   supervision and urban construction archives; the window issues the acceptance
   opinion.

Intermediary time (中介服务时间) in the combined evaluation — the consultants
writing the environmental, soil-and-water, seismic and traffic reports — does not
count against the limits. It is a special procedure: the coordinator starts it on
the evaluation task (``StartSpecialProcedure`` with kind ``intermediary``) when
the reports are commissioned and ends it when they are delivered; this flow does
not start it by itself.

Limits: promised 40 working days, statutory 45 (Shandong's figure for the
construction permit). Step limits up to the permit add up to 40 (3 + 35 + 2). The
case's clock stands still while the applicant builds, and the joint acceptance runs
outside the promise ("approval to permit") with its own limit of 5 working days.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from workflows.chain import Chain, LicenceType, Material
from workflows.legal_basis import LegalBasis
from workflows.steps import CaseContext

DRAWING_REVIEWERS = ("natural_resources", "fire", "civil_defence", "housing")
EVALUATORS = ("ecology", "water", "seismic", "traffic")
ACCEPTANCE = ("natural_resources", "fire", "civil_defence", "quality", "archives")


class ConstructionForm(BaseModel):
    """The one application form (一张表单)."""

    project_name: str = Field(
        min_length=2,
        max_length=200,
        description="项目名称",
        examples=[
            "泉林学校项目",
            "济宁高新区智能制造产业园一期",
            "阳光花园项目",
            "金色商业综合体项目",
        ],
    )
    project_code: str = Field(
        pattern=r"^\d{4}-\d{6}-\d{2}-\d{2}-\d{6}$",
        description="投资项目统一代码（如 2026-370811-47-01-000123）",
        examples=[
            "2026-370828-47-01-764879",
            "2026-370871-34-03-000123",
            "2026-370811-47-01-000456",
            "2026-370883-47-01-102938",
        ],
    )
    address: str = Field(
        min_length=2,
        max_length=200,
        description="建设地点",
        examples=[
            "济宁市金乡县吴泰闸路以东",
            "济宁高新区崇文大道 1 号",
            "济宁市任城区琵琶山路以西",
            "济宁市邹城市太白楼路以南",
        ],
    )
    land_area_m2: float = Field(
        gt=0, description="用地面积（平方米）", examples=[41500, 66000, 12000, 28000]
    )
    floor_area_m2: float = Field(
        gt=0, description="总建筑面积（平方米）", examples=[74700, 120000, 18000, 50400]
    )
    investment_wan: float = Field(
        gt=0, description="总投资（万元）", examples=[65300, 50000, 8000, 21000]
    )


chain = Chain(
    code="construction",
    name_zh="工程建设项目施工许可",
    name_en="Construction project: from approval to construction permit and acceptance",
    form=ConstructionForm,
    departments=(
        "natural_resources",
        "fire",
        "civil_defence",
        "housing",
        "ecology",
        "water",
        "seismic",
        "traffic",
        "quality",
        "archives",
    ),
    materials=(
        Material("application", "工程建设项目审批一表通申请表"),
        Material("project_approval", "项目审批、核准或备案文件"),
        Material("land_documents", "土地出让合同或划拨决定书"),
        Material("site_plan", "建设工程设计方案总平面图"),
        Material("construction_drawings", "施工图设计文件"),
        Material(
            "evaluation_reports",
            "环评、水土保持、地震安全性、交通影响评价报告",
            key=False,
            needed_for=("construction_permit",),
        ),
        Material("contracts", "施工、监理合同", key=False, needed_for=("construction_permit",)),
        Material(
            "funds_proof",
            "建设资金落实承诺书",
            key=False,
            commitment=True,
            needed_for=("construction_permit",),
        ),
        Material(
            "quality_safety_plan",
            "工程质量安全措施资料",
            key=False,
            commitment=True,
            needed_for=("construction_permit",),
        ),
        Material(
            "completion_documents",
            "竣工验收资料（竣工图、测绘成果、档案资料）",
            key=False,
            form_hint="竣工后申请联合验收时提交",
            needed_for=("completion_acceptance",),
        ),
    ),
    licences=(
        LicenceType("land_use_planning_permit", "建设用地规划许可证", "natural_resources"),
        LicenceType("construction_planning_permit", "建设工程规划许可证", "natural_resources"),
        LicenceType("drawing_review_certificate", "施工图设计文件审查合格书", "housing"),
        LicenceType("construction_permit", "建筑工程施工许可证", "housing"),
        LicenceType("completion_acceptance", "工程建设项目竣工联合验收意见书", "housing"),
    ),
    promised_days=40,
    statutory_days=45,
    applicant_kind="organisation",  # 建设单位
    description=(
        "用地规划许可 → 并联：工程规划许可、多图联审、多评合一 → 施工许可 → 出件"
        " → 竣工告知 → 联合验收 → 出件"
    ),
    legal_basis=LegalBasis(
        laws=(
            "《中华人民共和国城乡规划法》第三十七条、第三十八条、第四十条（用地、工程规划许可）",
            "《中华人民共和国建筑法》第八条（施工许可）",
            "《建筑工程施工许可管理办法》（住房和城乡建设部令第 18 号）",
            "《房屋建筑和市政基础设施工程施工图设计文件审查管理办法》",
            "《建设工程质量管理条例》第四十九条（竣工验收备案）",
            "《国务院办公厅关于全面开展工程建设项目审批制度改革的实施意见》（国办发〔2019〕11号）",
        ),
        statutory="山东省工程建设项目审批时限：从立项到施工许可 45 个工作日",
        promised="青岛「3540」改革：施工许可 40 个工作日内（审图 7、评估 35）",
        steps={
            "多图联审": "「3540」改革：7 个工作日内完成审图",
            "多评合一": "「3540」改革：35 个工作日内完成评估（中介服务时间不计入）",
            "建筑工程施工许可": "《建筑工程施工许可管理办法》第五条：7 日内作出决定，本地承诺 2 个工作日",
            "竣工联合验收": "国办发〔2019〕11号：限时联合验收，本地 5 个工作日（不计入承诺时限）",
        },
    ),
    fees="行政许可不收费（《行政许可法》第五十八条）；城市基础设施配套费等政府性基金按当地标准另行缴纳，技术审查费用由政府购买服务",
)


@chain.flow(version=1)
async def flow(case: CaseContext[ConstructionForm]) -> None:
    await case.review("natural_resources", "建设用地规划许可", days=3)

    await case.parallel(
        "工程建设许可",
        case.review("natural_resources", "建设工程规划许可", days=10),
        case.drawing_review(DRAWING_REVIEWERS, "多图联审", days=7),
        case.combined_evaluation(EVALUATORS, "多评合一", days=35),
    )

    await case.review("housing", "建筑工程施工许可", days=2)
    await case.issue(
        "land_use_planning_permit",
        "construction_planning_permit",
        "drawing_review_certificate",
        "construction_permit",
    )

    await case.wait_for_applicant("construction_completed", "竣工验收申请")
    await case.joint_acceptance(ACCEPTANCE, "竣工联合验收", days=5, stops_clock=True)
    await case.issue("completion_acceptance")
