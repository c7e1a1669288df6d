"""Every string the console shows, in Chinese (default) and English.

Screens never hold literal UI text: they call :meth:`Catalog.t` with a key. Data
(stage names, event summaries, applicant names) is shown as the engine wrote it.
A key missing in English falls back to Chinese, a key missing everywhere shows
itself, so a forgotten entry is visible rather than fatal (``tests/test_tui*``
checks both languages have the same keys).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.action_catalog import console_texts
from tui.refusals import EN as REFUSALS_EN
from tui.refusals import ZH as REFUSALS_ZH
from tui.refusals import word

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

ZH: dict[str, str] = {
    # app, header, navigation
    "app.title": "一链办理 · 协调台",
    "login.title": "登录 · 一链办理协调台",
    "login.user": "用户名",
    "login.password": "密码",
    "login.new_password": "新密码（至少 10 个字符）",
    "login.role": "以哪个角色工作",
    "login.submit": "登录",
    "login.cancel": "取消",
    "login.missing": "请输入用户名和密码",
    "login.choose_role": "你有多个角色，请选择一个",
    "app.acting_as": "{name}（{role}{department}）",
    "conn.ok": "Temporal 已连接",
    "conn.connecting": "正在连接 Temporal…",
    "conn.lost": "Temporal 连接中断，{seconds} 秒后重试",
    "conn.lost_short": "Temporal 连接中断，重试中",
    "readmodel.error": "读取数据库失败（稍后重试）：{message}",
    "screen.overview": "总览",
    "screen.cases": "办件",
    "screen.case": "办件详情",
    "screen.departments": "部门",
    "bind.quit": "退出",
    "bind.help": "帮助",
    "bind.jump": "跳转",
    "bind.back": "返回",
    "bind.open": "打开",
    "bind.search": "搜索",
    "bind.filter": "筛选",
    "bind.problems": "只看问题",
    "bind.clear": "清除筛选",
    "bind.mark": "标记",
    "bind.next_page": "下一页",
    "bind.prev_page": "上一页",
    "bind.sort": "排序",
    "bind.refresh": "刷新",
    "bind.palette": "命令",
    "palette": "命令",
    "bind.overview": "总览",
    "bind.cases": "办件",
    "bind.departments": "部门",
    # actions
    # the actions' labels and help are declared with the actions
    **console_texts("zh"),
    "act.bulk_urge": "批量催办",
    "act.bulk_reassign": "批量转办",
    "act.help.bulk_urge": "对标记的案件逐一催办，并列出每件结果",
    "act.help.bulk_reassign": "对标记的案件逐一转办，并列出每件结果",
    "cmd.jump": "跳转到{screen}",
    "cmd.jump_help": "打开{screen}页面",
    "cmd.on_case": "{action}：{case_no}",
    "cmd.no_case": "先在办件列表选中一件",
    # forms
    "form.title": "{action} · {case_no}",
    "form.task": "任务",
    "form.task_case": "整个案件（承诺期限）",
    "form.department": "部门",
    "form.department_any": "全部未决定的部门",
    "form.reason": "理由",
    "form.reason_required": "理由（必填）",
    "form.days": "延长工作日数",
    "form.verdict": "决定",
    "form.items": "缺少的材料（一次性告知全部）",
    "form.items_extra": "其他缺件（用“；”分隔）",
    "form.items_received": "本次收到的材料",
    "form.to_department": "转至部门",
    "form.to_assignee": "转至经办人",
    "form.kind": "特别程序类型",
    "form.suspension": "特别程序",
    "form.submit": "提交",
    "form.cancel": "取消",
    "form.nothing": "没有可以{action}的任务",
    "form.sending": "正在提交…",
    "form.select": "请选择",
    "form.invalid": "输入有误：{message}",
    "form.rejected": "流程拒绝：{message}",
    "form.unreachable": "无法连接 Temporal：{message}",
    "form.from_department": "从部门",
    "confirm.title": "请确认",
    "confirm.on_behalf": "确定以督办人员身份{action}？\n案件 {case_no}，任务 {task}，部门 {department}\n理由：{reason}",
    "confirm.yes": "确定",
    "confirm.no": "取消",
    "notice.title": "一次性告知书",
    "notice.body": "案件 {case_no}：{task} 由 {department} 退回补正。\n请申请人一次性补齐以下 {count} 项材料：\n{items}\n补齐前该事项停止计时。",
    "notice.close": "关闭",
    "bulk.title": "{action}结果",
    "bulk.ok": "成功",
    "bulk.failed": "失败",
    "bulk.none": "没有可操作的任务",
    "bulk.summary": "{ok} 件成功，{failed} 件失败",
    "bulk.marked": "已标记 {count} 件",
    "bulk.no_marks": "没有标记的案件",
    "done": "{action}完成：{message}",
    # verdicts, statuses, levels
    "verdict.approve": "同意",
    "verdict.reject": "不同意",
    "verdict.return": "退回补正",
    "status.running": "办理中",
    "status.approved": "准予许可",
    "status.not_approved": "不予许可",
    "status.withdrawn": "已撤回",
    "status.revoked": "已撤销",
    "status.altered": "外部改动",
    "overview.calendar_behind": "{count} 件在办案件仍按旧版节假日安排计算期限：onechain calendar notify 重新通知（onechain doctor 查看）",
    "overview.altered": "{count} 件案件被外部改动（重置、终止、删除或绕过受理启动），已记入审计：onechain cases list --status altered",
    "task.open": "办理中",
    "task.returned": "待补正",
    "task.approved": "同意",
    "task.supplied": "材料已补齐",
    "task.rejected": "不同意",
    "task.cancelled": "已取消",
    "warning.none": "正常",
    "warning.yellow": "黄牌",
    "warning.red": "红牌",
    "role.window_clerk": "窗口人员",
    "role.reviewer": "审查人员",
    "role.coordinator": "协调员",
    "role.supervisor": "督办人员",
    "role.system": "系统",
    "acceptance.accepted": "受理",
    "acceptance.incomplete": "容缺受理",
    "acceptance.awaiting_materials": "待补正（未受理）",
    "material.received": "已收取",
    "material.e_licence": "电子证照",
    "material.committed": "告知承诺",
    "material.missing": "缺失",
    "material.unknown": "未登记",
    "material.key": "关键",
    "material.optional": "非关键",
    "suspension.hearing": "听证",
    "suspension.tendering": "招标",
    "suspension.auction": "拍卖",
    "suspension.testing": "检验",
    "suspension.inspection": "检测",
    "suspension.quarantine": "检疫",
    "suspension.appraisal": "鉴定",
    "suspension.expert_review": "专家评审",
    "suspension.site_survey": "现场踏勘",
    "suspension.public_notice": "公示",
    "suspension.intermediary": "中介服务",
    "suspension.supplement": "退回补正",
    "suspension.applicant": "等待申请人",
    "sort.urgency": "最紧急优先",
    "sort.case_no": "按案件编号",
    "sort.newest": "最新受理优先",
    # cases list
    "cases.col.mark": "✓",
    "cases.col.case_no": "案件编号",
    "cases.col.chain": "链条",
    "cases.col.applicant": "申请人",
    "cases.col.id": "证件号",
    "cases.col.stage": "阶段",
    "cases.col.departments": "待办部门",
    "cases.col.due": "到期日",
    "cases.col.left": "剩余工作日",
    "cases.col.warning": "预警",
    "cases.col.status": "状态",
    "cases.range": "第 {first}–{last} 件，共 {total} 件",
    "cases.empty": "没有符合条件的案件",
    "cases.search": "搜索案件编号或申请人（回车确定，Esc 取消）",
    "cases.filters": "筛选：{filters}",
    "cases.no_filters": "全部案件",
    "cases.only_problems": "只看问题",
    "cases.sort": "排序：{sort}",
    "cases.loading": "加载中…",
    "left.late": "超 {days}",
    "left.days": "{days}",
    "provisional": "（暂定）",
    "provisional.mark": "暂",
    # filter dialog
    "filter.title": "筛选办件",
    "filter.chain": "链条",
    "filter.status": "状态",
    "filter.stage": "阶段",
    "filter.department": "部门",
    "filter.warning": "预警",
    "filter.problems": "只看问题（黄牌、红牌）",
    "filter.sort": "排序",
    "filter.any": "全部",
    "filter.apply": "应用",
    "filter.reset": "清除",
    # overview
    "overview.open_cases": "在办案件",
    "overview.case_yellow": "案件黄牌",
    "overview.case_red": "案件红牌",
    "overview.task_yellow": "环节黄牌",
    "overview.task_red": "环节红牌",
    "overview.accepted_today": "今日受理",
    "overview.concluded_today": "今日办结",
    "overview.by_chain": "在办案件（按链条和阶段）",
    "overview.by_department": "超期（按部门）",
    "overview.chart": "近 {days} 日受理与办结",
    "overview.legend": "[cyan]━━[/] 受理  [green]━━[/] 办结",
    "overview.col.chain": "链条",
    "overview.col.stage": "阶段",
    "overview.col.count": "件数",
    "overview.col.yellow": "黄牌",
    "overview.col.red": "红牌",
    "overview.col.department": "部门",
    "overview.col.overdue_tasks": "超期环节",
    "overview.col.warning_tasks": "预警环节",
    "overview.col.overdue_cases": "超期案件",
    "overview.nothing_overdue": "没有超期",
    # departments
    "dept.col.department": "部门",
    "dept.col.open": "在办环节",
    "dept.col.yellow": "黄牌",
    "dept.col.red": "红牌",
    "dept.col.returned": "待补正",
    "dept.col.cases": "待办案件",
    "dept.hint": "回车：查看该部门的待办案件",
    # case screen
    "case.loading": "正在读取 {case_no}…",
    "case.chain": "链条",
    "case.case_no": "案件",
    "case.id": "证件号",
    "case.status": "状态",
    "case.stage": "阶段",
    "case.applicant": "申请人",
    "case.acceptance": "受理方式",
    "case.accepted_on": "受理日",
    "case.promised": "承诺时限",
    "case.statutory": "法定时限",
    "case.limit": "{days} 个工作日 · {due}{provisional}",
    "case.due": "整体到期",
    "case.outcome": "办结",
    "case.stopped": "（停止计时）",
    "case.tab.tasks": "任务",
    "case.tab.clock": "停止计时与延期",
    "case.tab.materials": "材料",
    "case.tab.licences": "证照",
    "case.tab.timeline": "时间线",
    "case.col.task": "任务",
    "case.col.name": "名称",
    "case.col.department": "部门",
    "case.col.assignee": "经办人",
    "case.col.status": "状态",
    "case.col.due": "到期日",
    "case.col.left": "剩余",
    "case.col.bar": "期限进度",
    "case.col.urged": "催办",
    "case.col.kind": "类型",
    "case.col.reason": "理由",
    "case.col.start": "开始",
    "case.col.end": "结束",
    "case.col.by": "经办",
    "case.col.target": "对象",
    "case.col.days": "天数",
    "case.col.new_due": "新期限",
    "case.col.material": "材料",
    "case.col.key": "类别",
    "case.col.state": "状态",
    "case.col.source": "来源",
    "case.col.licence": "证照",
    "case.col.number": "编号",
    "case.col.issued": "发证日",
    "case.col.seq": "#",
    "case.col.when": "时间",
    "case.col.who": "谁",
    "case.col.what": "事项",
    "case.suspensions": "停止计时",
    "case.extensions": "延期",
    "case.none": "无",
    "case.notice": "一次性告知",
    "case.missing_items": "退回补正缺件",
    "case.materials_pending": "材料清单由受理环节登记（开发中）；以下为链条要求的材料。",
    "case.running": "进行中",
    "case.whole": "案件",
    "case.not_found": "找不到案件 {case_no}",
    "case.error": "读取失败：{message}",
    # help
    "help.title": "按键帮助",
    "help.global": "全局：: 跳转  ? 帮助  Ctrl+P 命令面板（列出全部操作）  Esc 返回  q 退出",
    "help.screen": "当前页面",
    "help.close": "Esc 关闭",
    # jump
    "jump.title": "跳转到（总览 / 办件 / 部门 / 案件编号）",
    "jump.placeholder": "overview、cases、departments，或输入案件编号",
    "jump.unknown": "不认识：{text}",
}

EN: dict[str, str] = {
    "app.title": "onechain · coordinators' console",
    "login.title": "Sign in · onechain console",
    "login.user": "User id",
    "login.password": "Password",
    "login.new_password": "New password (at least 10 characters)",
    "login.role": "Role to work in",
    "login.submit": "Sign in",
    "login.cancel": "Cancel",
    "login.missing": "Enter your user id and password",
    "login.choose_role": "You hold several roles: choose one",
    "app.acting_as": "{name} ({role}{department})",
    "conn.ok": "Temporal connected",
    "conn.connecting": "Connecting to Temporal…",
    "conn.lost": "Temporal connection lost, retrying in {seconds}s",
    "conn.lost_short": "Temporal connection lost, retrying",
    "readmodel.error": "The read model did not answer (will retry): {message}",
    "screen.overview": "Overview",
    "screen.cases": "Cases",
    "screen.case": "Case",
    "screen.departments": "Departments",
    "bind.quit": "Quit",
    "bind.help": "Help",
    "bind.jump": "Jump",
    "bind.back": "Back",
    "bind.open": "Open",
    "bind.search": "Search",
    "bind.filter": "Filter",
    "bind.problems": "Only problems",
    "bind.clear": "Clear filters",
    "bind.mark": "Mark",
    "bind.next_page": "Next page",
    "bind.prev_page": "Prev page",
    "bind.sort": "Sort",
    "bind.refresh": "Refresh",
    "bind.palette": "Commands",
    "palette": "palette",
    "bind.overview": "Overview",
    "bind.cases": "Cases",
    "bind.departments": "Departments",
    # the actions' labels and help are declared with the actions
    **console_texts("en"),
    "act.bulk_urge": "Urge marked",
    "act.bulk_reassign": "Reassign marked",
    "act.help.bulk_urge": "Urge each marked case and list the result per case",
    "act.help.bulk_reassign": "Reassign each marked case and list the result per case",
    "cmd.jump": "Go to {screen}",
    "cmd.jump_help": "Open the {screen} screen",
    "cmd.on_case": "{action}: {case_no}",
    "cmd.no_case": "Select a case in the list first",
    "form.title": "{action} · {case_no}",
    "form.task": "Task",
    "form.task_case": "Whole case (promised limit)",
    "form.department": "Department",
    "form.department_any": "All undecided departments",
    "form.reason": "Reason",
    "form.reason_required": "Reason (required)",
    "form.days": "Working days to add",
    "form.verdict": "Decision",
    "form.items": "Missing materials (tell everything at once)",
    "form.items_extra": "Other missing items (separate with ';')",
    "form.items_received": "Materials received now",
    "form.to_department": "To department",
    "form.to_assignee": "To officer",
    "form.kind": "Kind of special procedure",
    "form.suspension": "Special procedure",
    "form.submit": "Submit",
    "form.cancel": "Cancel",
    "form.nothing": "No task to {action}",
    "form.sending": "Sending…",
    "form.select": "Select",
    "form.invalid": "Invalid input: {message}",
    "form.rejected": "Refused by the workflow: {message}",
    "form.unreachable": "Temporal unreachable: {message}",
    "form.from_department": "From department",
    "confirm.title": "Please confirm",
    "confirm.on_behalf": "{action} as supervisor?\nCase {case_no}, task {task}, department {department}\nReason: {reason}",
    "confirm.yes": "Confirm",
    "confirm.no": "Cancel",
    "notice.title": "One-time notice of missing materials",
    "notice.body": "Case {case_no}: {task} was returned by {department}.\nThe applicant must bring all {count} items at once:\n{items}\nThe clock of this step is stopped until then.",
    "notice.close": "Close",
    "bulk.title": "{action}: results",
    "bulk.ok": "ok",
    "bulk.failed": "failed",
    "bulk.none": "no task to act on",
    "bulk.summary": "{ok} ok, {failed} failed",
    "bulk.marked": "{count} marked",
    "bulk.no_marks": "No case is marked",
    "done": "{action} done: {message}",
    "verdict.approve": "Approve",
    "verdict.reject": "Reject",
    "verdict.return": "Return for supplement",
    "status.running": "Running",
    "status.approved": "Approved",
    "status.not_approved": "Not approved",
    "status.withdrawn": "Withdrawn",
    "status.revoked": "Revoked",
    "status.altered": "Changed outside onechain",
    "overview.calendar_behind": "{count} running case(s) still compute due dates with an older calendar revision: run onechain calendar notify (see onechain doctor)",
    "overview.altered": "{count} case(s) changed outside onechain (reset, terminated, deleted or started around it), recorded in the audit trail: onechain cases list --status altered",
    "task.open": "Open",
    "task.returned": "Returned",
    "task.approved": "Approved",
    "task.supplied": "Materials supplied",
    "task.rejected": "Rejected",
    "task.cancelled": "Cancelled",
    "warning.none": "OK",
    "warning.yellow": "Yellow",
    "warning.red": "Red",
    "role.window_clerk": "window clerk",
    "role.reviewer": "reviewer",
    "role.coordinator": "coordinator",
    "role.supervisor": "supervisor",
    "role.system": "system",
    "acceptance.accepted": "Accepted",
    "acceptance.incomplete": "Accepted, items to follow",
    "acceptance.awaiting_materials": "Awaiting materials (not accepted)",
    "material.received": "Received",
    "material.e_licence": "E-licence",
    "material.committed": "Committed",
    "material.missing": "Missing",
    "material.unknown": "Not recorded",
    "material.key": "Key",
    "material.optional": "Non-key",
    "suspension.hearing": "Hearing",
    "suspension.tendering": "Tendering",
    "suspension.auction": "Auction",
    "suspension.testing": "Testing",
    "suspension.inspection": "Inspection",
    "suspension.quarantine": "Quarantine",
    "suspension.appraisal": "Appraisal",
    "suspension.expert_review": "Expert review",
    "suspension.site_survey": "Site survey",
    "suspension.public_notice": "Public notice",
    "suspension.intermediary": "Intermediary",
    "suspension.supplement": "Supplement",
    "suspension.applicant": "Waiting for applicant",
    "sort.urgency": "Most urgent first",
    "sort.case_no": "By case number",
    "sort.newest": "Newest first",
    "cases.col.mark": "✓",
    "cases.col.case_no": "Case no.",
    "cases.col.chain": "Chain",
    "cases.col.applicant": "Applicant",
    "cases.col.id": "Id",
    "cases.col.stage": "Stage",
    "cases.col.departments": "Open departments",
    "cases.col.due": "Due",
    "cases.col.left": "Days left",
    "cases.col.warning": "Warning",
    "cases.col.status": "Status",
    "cases.range": "{first}–{last} of {total}",
    "cases.empty": "No case matches",
    "cases.search": "Search case number or applicant (Enter applies, Esc cancels)",
    "cases.filters": "Filter: {filters}",
    "cases.no_filters": "All cases",
    "cases.only_problems": "only problems",
    "cases.sort": "Sort: {sort}",
    "cases.loading": "Loading…",
    "left.late": "{days} late",
    "left.days": "{days}",
    "provisional": " (provisional)",
    "provisional.mark": "p",
    "filter.title": "Filter cases",
    "filter.chain": "Chain",
    "filter.status": "Status",
    "filter.stage": "Stage",
    "filter.department": "Department",
    "filter.warning": "Warning",
    "filter.problems": "Only problems (yellow, red)",
    "filter.sort": "Sort",
    "filter.any": "Any",
    "filter.apply": "Apply",
    "filter.reset": "Clear",
    "overview.open_cases": "Open cases",
    "overview.case_yellow": "Cases yellow",
    "overview.case_red": "Cases red",
    "overview.task_yellow": "Steps yellow",
    "overview.task_red": "Steps red",
    "overview.accepted_today": "Accepted today",
    "overview.concluded_today": "Concluded today",
    "overview.by_chain": "Open cases by chain and stage",
    "overview.by_department": "Overdue by department",
    "overview.chart": "Accepted and concluded, last {days} days",
    "overview.legend": "[cyan]━━[/] accepted  [green]━━[/] concluded",
    "overview.col.chain": "Chain",
    "overview.col.stage": "Stage",
    "overview.col.count": "Cases",
    "overview.col.yellow": "Yellow",
    "overview.col.red": "Red",
    "overview.col.department": "Department",
    "overview.col.overdue_tasks": "Overdue steps",
    "overview.col.warning_tasks": "Warned steps",
    "overview.col.overdue_cases": "Overdue cases",
    "overview.nothing_overdue": "Nothing overdue",
    "dept.col.department": "Department",
    "dept.col.open": "Open steps",
    "dept.col.yellow": "Yellow",
    "dept.col.red": "Red",
    "dept.col.returned": "Returned",
    "dept.col.cases": "Cases waiting",
    "dept.hint": "Enter: the cases waiting on this department",
    "case.loading": "Reading {case_no}…",
    "case.chain": "Chain",
    "case.case_no": "Case",
    "case.id": "Id",
    "case.status": "Status",
    "case.stage": "Stage",
    "case.applicant": "Applicant",
    "case.acceptance": "Acceptance",
    "case.accepted_on": "Accepted on",
    "case.promised": "Promised limit",
    "case.statutory": "Statutory limit",
    "case.limit": "{days} working days · {due}{provisional}",
    "case.due": "Overall due",
    "case.outcome": "Concluded",
    "case.stopped": " (clock stopped)",
    "case.tab.tasks": "Tasks",
    "case.tab.clock": "Suspensions & extensions",
    "case.tab.materials": "Materials",
    "case.tab.licences": "Licences",
    "case.tab.timeline": "Timeline",
    "case.col.task": "Task",
    "case.col.name": "Name",
    "case.col.department": "Department",
    "case.col.assignee": "Officer",
    "case.col.status": "Status",
    "case.col.due": "Due",
    "case.col.left": "Left",
    "case.col.bar": "Deadline",
    "case.col.urged": "Urged",
    "case.col.kind": "Kind",
    "case.col.reason": "Reason",
    "case.col.start": "Start",
    "case.col.end": "End",
    "case.col.by": "By",
    "case.col.target": "Target",
    "case.col.days": "Days",
    "case.col.new_due": "New due",
    "case.col.material": "Material",
    "case.col.key": "Kind",
    "case.col.state": "State",
    "case.col.source": "Source",
    "case.col.licence": "Licence",
    "case.col.number": "Number",
    "case.col.issued": "Issued",
    "case.col.seq": "#",
    "case.col.when": "When",
    "case.col.who": "Who",
    "case.col.what": "What",
    "case.suspensions": "Suspensions",
    "case.extensions": "Extensions",
    "case.none": "none",
    "case.notice": "One-time notice",
    "case.missing_items": "Missing for returned tasks",
    "case.materials_pending": "The intake records materials per case (being built); these are the chain's materials.",
    "case.running": "running",
    "case.whole": "case",
    "case.not_found": "No case {case_no}",
    "case.error": "Could not read the case: {message}",
    "help.title": "Keys",
    "help.global": "Everywhere: : jump  ? help  Ctrl+P command palette (every action)  Esc back  q quit",
    "help.screen": "This screen",
    "help.close": "Esc closes",
    "jump.title": "Go to (overview / cases / departments / a case number)",
    "jump.placeholder": "overview, cases, departments, or a case number",
    "jump.unknown": "Unknown: {text}",
}

DEPARTMENTS_EN: dict[str, str] = {
    "window": "Service centre window",
    "education": "Education bureau",
    "fire": "Fire rescue",
    "health": "Health commission",
    "market": "Market regulation",
    "civil_affairs": "Civil affairs",
    "urban": "Urban management",
    "ecology": "Ecology & environment",
    "public_security": "Public security",
    "bank": "Bank",
    "tax": "Tax bureau",
    "hrss": "HR & social security",
    "natural_resources": "Natural resources & planning",
    "housing": "Housing & construction",
    "civil_defence": "Civil air defence",
    "water": "Water resources",
    "seismic": "Earthquake bureau",
    "traffic": "Transport",
    "quality": "Construction quality",
    "archives": "Urban construction archives",
    "development": "Development & reform",
    "talent": "Talent office",
}

# Issue 12 (who holds a case, the cursor, the clock display, the console's processes):
# kept in one block so it merges apart from the forms' strings.
ZH.update(
    {
        "cases.col.holder": "在办部门·经办人",
        "cases.holders": "在办：{holders}",
        "cases.nobody": "在办：无部门在办",
        "cases.why": "超期原因：{why}",
        "cases.cursor_gone": "{case_no} 已不在本页（办结、不再符合筛选或排序变化），光标在第 {row} 行",
        "cases.first": "已是第一件",
        "cases.last": "已是最后一件",
        "hold.due": "至 {due}",
        "stopped.mark": "·停",
        "left.capped": "{days}",
        "late.task": "{task} 超 {days} 个工作日",
        "late.case": "整体时限超 {days} 个工作日",
        "late.stopped": "（停止计时 {spans}）",
        "case.next_due": "最近到期",
        "case.holders": "在办",
        "case.late": "超期原因",
        "dept.col.overdue_cases": "超期案件",
        "dept.nobody": "（无部门在办）",
        "overview.hint": "Tab 切换 · 回车：打开对应的办件列表",
        "bind.redraw": "重绘",
        "screenshot.saved": "截图已保存：{path}",
        "screenshot.failed": "截图保存失败：{message}",
        "bulk.skipped": "{count} 件已办结，不发送：{cases}",
        "bulk.all_concluded": "标记的案件都已办结，没有可发送的",
        "quit.confirm": "退出将同时停止 Temporal 开发服务器、worker 和模拟器。确定退出吗？",
        "server.died": "Temporal 开发服务器已退出（代码 {code}），正在重启；日志见 {log}",
        "server.restarted": "Temporal 开发服务器已重启",
        "server.gone": "Temporal 开发服务器无法重启：{message}。退出后运行 `onechain up` 重新启动",
    }
)
EN.update(
    {
        "cases.col.holder": "Held by",
        "cases.holders": "Held by: {holders}",
        "cases.nobody": "Held by: no department",
        "cases.why": "Late because: {why}",
        "cases.cursor_gone": "{case_no} left this page (concluded, filtered out or re-sorted); cursor on row {row}",
        "cases.first": "This is the first case",
        "cases.last": "This is the last case",
        "hold.due": "due {due}",
        "stopped.mark": " stopped",
        "left.capped": "{days}",
        "late.task": "{task} {days} working days over",
        "late.case": "the case's limit {days} working days over",
        "late.stopped": " (clock stopped {spans})",
        "case.next_due": "Next due",
        "case.holders": "Held by",
        "case.late": "Late because",
        "dept.col.overdue_cases": "Overdue cases",
        "dept.nobody": "(no department)",
        "overview.hint": "Tab moves · Enter opens the matching cases",
        "bind.redraw": "Redraw",
        "screenshot.saved": "Screenshot saved: {path}",
        "screenshot.failed": "Could not save the screenshot: {message}",
        "bulk.skipped": "{count} concluded, not sent: {cases}",
        "bulk.all_concluded": "Every marked case is concluded; nothing to send",
        "quit.confirm": "Quitting also stops the Temporal dev server, the worker and the simulator. Quit?",
        "server.died": "The Temporal dev server exited (code {code}); restarting it, log in {log}",
        "server.restarted": "The Temporal dev server is running again",
        "server.gone": "The Temporal dev server cannot be restarted: {message}. Quit and run `onechain up`",
    }
)

# Issue 12, forms, dialogs and language: refusals worded from their codes
# (``tui/refusals.py``), the forms' due-date lines, the language switch.
ZH.update(REFUSALS_ZH)
EN.update(REFUSALS_EN)
ZH.update(
    {
        "form.task_due": "{department} · 到期 {due}{late}",
        "form.task_late": "（超 {days} 个工作日）",
        "form.task_no_clock": "{department} · 无时限",
        "form.new_due": "新的到期日：{due}（预览）",
        "form.new_due_case": "案件新的承诺到期日：{due}（预览）",
        "form.new_due_unknown": "新的到期日：输入天数后预览",
        "form.new_due_stopped": "新的到期日：{due}（预览；停止计时期间逐日顺延）",
        "form.officer": "经办人（可选）",
        "form.officer_none": "该部门没有登记经办人，请手工填写",
        "form.refreshing": "正在核对案件最新状态…",
        "lang.switched": "界面语言：中文",
        "cmd.lang": "切换语言 / Switch language",
        "cmd.lang_help": "在中文和英文之间切换界面语言",
        "bind.lang": "语言",
        "filter.keys": "回车 应用 · 空格 展开选项或勾选 · Tab 下一项 · Esc 取消",
    }
)
EN.update(
    {
        "form.task_due": "{department} · due {due}{late}",
        "form.task_late": " ({days} working days over)",
        "form.task_no_clock": "{department} · no time limit",
        "form.new_due": "New due date: {due} (preview)",
        "form.new_due_case": "The case's new promised date: {due} (preview)",
        "form.new_due_unknown": "New due date: enter the days to preview",
        "form.new_due_stopped": "New due date: {due} (preview; moves on each stopped day)",
        "form.officer": "Officer (optional)",
        "form.officer_none": "No officers are recorded for this department; type a name",
        "form.refreshing": "Checking the case's latest state…",
        "lang.switched": "Interface language: English",
        "cmd.lang": "切换语言 / Switch language",
        "cmd.lang_help": "Switch the interface between Chinese and English",
        "bind.lang": "Language",
        "filter.keys": "Enter applies · Space opens a list or ticks · Tab next · Esc cancels",
    }
)

# Issue 22, the supervision screen (电子监察 and 督办): kept in one block.
ZH.update(
    {
        "screen.supervision": "监察",
        "screen.finding": "监察发现",
        "bind.supervision": "监察",
        "role.administrator": "系统管理员",
        "sup.hint.supervisor": "全部监察发现 · 上表：未办结的按部门和规则计数（回车筛选）· 下表：回车打开",
        "sup.hint.administrator": "全部监察发现（只读）· 无部门的督办由系统管理员反馈 · 回车打开",
        "sup.hint.reviewer": "交办给{department}、待反馈的督办 · 回车打开，r 反馈",
        "sup.summary": "未办结（按部门 × 规则）",
        "sup.count": "{count} 条",
        "sup.capped": "最新 {count} 条（用 f 筛选缩小范围）",
        "sup.filter_clear": "x 清除筛选",
        "sup.filter_title": "筛选监察发现",
        "sup.no_department": "（无部门）",
        "sup.col.id": "编号",
        "sup.col.status": "督办状态",
        "sup.col.rule": "规则",
        "sup.col.department": "部门",
        "sup.col.case": "案件",
        "sup.col.found": "发现时间",
        "sup.col.respond_by": "反馈期限",
        "sup.col.finding": "发现",
        "sup.col.evidence.id": "审计号",
        "sup.col.evidence.at": "时间",
        "sup.col.evidence.kind": "类别",
        "sup.col.evidence.seq": "事件序号",
        "sup.col.evidence.actor": "人员",
        "sup.col.evidence.summary": "内容",
        "sup.col.steps.at": "时间",
        "sup.col.steps.step": "步骤",
        "sup.col.steps.status": "状态",
        "sup.col.steps.actor": "人员",
        "sup.col.steps.reason": "理由",
        "sup.status.open": "待督办",
        "sup.status.sent": "已交办",
        "sup.status.responded": "已反馈",
        "sup.status.escalated": "已升级",
        "sup.status.closed": "已办结",
        "sup.step.send": "交办",
        "sup.step.respond": "反馈",
        "sup.step.escalate": "升级",
        "sup.step.close": "办结",
        "sup.step.overdue": "逾期未反馈，自动升级",
        "sup.severity.low": "低",
        "sup.severity.medium": "中",
        "sup.severity.high": "高",
        "sup.open_case": "打开案件",
        "sup.loading": "正在读取监察发现 #{id}…",
        "sup.not_found": "没有监察发现 #{id}，或不在你的查看范围内",
        "sup.meta": "案件 {case_no} · 部门 {department} · 督办状态 {status}",
        "sup.due": "反馈期限 {due}",
        "sup.response": "部门反馈：{response}",
        "sup.evidence": "证据",
        "sup.evidence_seqs": "证据（案件事件序号：{seqs}；审计记录如下）",
        "sup.steps": "督办过程",
        "sup.step_title": "{step} · 监察发现 #{id}",
        "sup.respond_days": "反馈期限（工作日，1–30）",
        "sup.reason.send": "督办要求（必填）",
        "sup.reason.respond": "反馈内容（必填）",
        "sup.reason.escalate": "升级理由（必填）",
        "sup.reason.close": "办结结论（必填）",
        "sup.reason_required": "请填写理由",
        "sup.days_invalid": "反馈期限须为 1 到 30 个工作日（填了 {value}）",
        "sup.done": "督办 #{id} {step}：{status}",
    }
)
EN.update(
    {
        "screen.supervision": "Supervision",
        "screen.finding": "Finding",
        "bind.supervision": "Supervision",
        "role.administrator": "administrator",
        "sup.hint.supervisor": "Every finding · top: unclosed ones by department × rule (Enter filters) · below: Enter opens",
        "sup.hint.administrator": "Every finding (read-only) · an administrator answers items with no department · Enter opens",
        "sup.hint.reviewer": "Items sent to {department} awaiting its answer · Enter opens, r answers",
        "sup.summary": "Unclosed (department × rule)",
        "sup.count": "{count} findings",
        "sup.capped": "the newest {count} (narrow them with f)",
        "sup.filter_clear": "x clears the filter",
        "sup.filter_title": "Filter findings",
        "sup.no_department": "(no department)",
        "sup.col.id": "No.",
        "sup.col.status": "Status",
        "sup.col.rule": "Rule",
        "sup.col.department": "Department",
        "sup.col.case": "Case",
        "sup.col.found": "Found",
        "sup.col.respond_by": "Answer by",
        "sup.col.finding": "Finding",
        "sup.col.evidence.id": "Audit id",
        "sup.col.evidence.at": "At",
        "sup.col.evidence.kind": "Kind",
        "sup.col.evidence.seq": "Event",
        "sup.col.evidence.actor": "Who",
        "sup.col.evidence.summary": "What",
        "sup.col.steps.at": "At",
        "sup.col.steps.step": "Step",
        "sup.col.steps.status": "Status",
        "sup.col.steps.actor": "Who",
        "sup.col.steps.reason": "Why",
        "sup.status.open": "Not sent",
        "sup.status.sent": "Sent",
        "sup.status.responded": "Answered",
        "sup.status.escalated": "Escalated",
        "sup.status.closed": "Closed",
        "sup.step.send": "Send",
        "sup.step.respond": "Answer",
        "sup.step.escalate": "Escalate",
        "sup.step.close": "Close",
        "sup.step.overdue": "No answer in time, escalated",
        "sup.severity.low": "low",
        "sup.severity.medium": "medium",
        "sup.severity.high": "high",
        "sup.open_case": "Open case",
        "sup.loading": "Reading finding #{id}…",
        "sup.not_found": "No finding #{id}, or not yours to see",
        "sup.meta": "Case {case_no} · department {department} · status {status}",
        "sup.due": "answer by {due}",
        "sup.response": "The department's answer: {response}",
        "sup.evidence": "Evidence",
        "sup.evidence_seqs": "Evidence (case events {seqs}; audit rows below)",
        "sup.steps": "Steps of the item",
        "sup.step_title": "{step} · finding #{id}",
        "sup.respond_days": "Working days to answer (1–30)",
        "sup.reason.send": "Instruction (required)",
        "sup.reason.respond": "Answer (required)",
        "sup.reason.escalate": "Why escalate (required)",
        "sup.reason.close": "Conclusion (required)",
        "sup.reason_required": "A reason is required",
        "sup.days_invalid": "Working days to answer must be 1 to 30 (got {value})",
        "sup.done": "Item #{id} {step}: {status}",
    }
)

# Issue 26, what misled: due today, outages, reasons (kept in one block).
ZH.update(
    {
        "left.today": "今日到期",
        "left.today_bar": "今日",
        "left.late_day": "已超期",
        "conn.stalled": "Temporal 无应答",
        "bulk.applicant": "只在等待申请人补齐材料，不催办",
        "cause.line": "耗时：{steps}",
        "cause.step": "{task}（{departments}）用 {used} 个工作日（时限 {limit}{over}）",
        "cause.over": "，超 {days}",
        "cause.more": "另有 {count} 个环节超时",
        "cause.statutory": "已超过法定时限 {days} 个工作日（法定到期 {due}）",
        "cause.statutory_day": "已超过法定时限（法定到期 {due}）",
        "filter.accepted_on": "受理日",
        "filter.concluded_on": "办结日",
        "overview.counts": "案件牌：整体承诺时限 · 环节牌：在办环节自身的时限（一件可有几个环节）",
        "quit.confirm_web": "退出将结束这个浏览器会话（别人的会话不受影响），需要重新登录才能继续。确定退出吗？",
        "outage.no_answer": "Temporal 或办理服务（worker）没有应答，可能已停止或卡住：暂时读不到案件的最新状态，恢复后自动刷新。请通知系统管理员",
        "outage.maybe_applied": "Temporal 或办理服务（worker）没有应答：这次操作可能已经生效，也可能没有。服务恢复后先在案件页查看时间线，再决定是否重做。请通知系统管理员",
        "outage.not_applied": "办理服务（worker）没有接收这次操作，操作未生效：服务恢复后再提交一次。请通知系统管理员",
        "outage.unreachable": "连不上 Temporal（服务未启动或网络中断）：恢复后自动重连。请通知系统管理员",
    }
)
EN.update(
    {
        "left.today": "due today",
        "left.today_bar": "today",
        "left.late_day": "late",
        "conn.stalled": "Temporal not answering",
        "bulk.applicant": "only waiting for the applicant's materials: not urged",
        "cause.line": "Days used by: {steps}",
        "cause.step": "{task} ({departments}) {used} working days (limit {limit}{over})",
        "cause.over": ", {days} over",
        "cause.more": "{count} more steps over their limit",
        "cause.statutory": "The statutory limit is passed by {days} working days (due {due})",
        "cause.statutory_day": "The statutory limit is passed (due {due})",
        "filter.accepted_on": "accepted on",
        "filter.concluded_on": "concluded on",
        "overview.counts": "case cards: the promised limit · step cards: an open step's own limit (a case may have several)",
        "quit.confirm_web": "Quitting ends this browser session (nobody else's); you will have to sign in again. Quit?",
        "outage.no_answer": "Temporal or its workers are not answering (stopped or stuck): the case's latest state cannot be read now; it is read again once they are back. Tell your administrator",
        "outage.maybe_applied": "Temporal or its workers are not answering: this action may or may not have taken effect. Once they are back, look at the case's timeline before doing it again. Tell your administrator",
        "outage.not_applied": "No worker took this action; it did not take effect: send it again once they are back. Tell your administrator",
        "outage.unreachable": "Temporal cannot be reached (not running, or the network is down); the console reconnects once it is back. Tell your administrator",
    }
)

# Issue 24, the forecast screen (预测): kept in one block.
ZH.update(
    {
        "screen.forecast": "预测",
        "bind.forecast": "预测",
        "fc.apply": "应用假设",
        "fc.hint": "未来 10 个工作日每天的红牌（预计数与 80% 区间）· 在表中移动查看单个部门 · 假设情景填好后回车",
        "fc.switch.arrivals": "新收件变化",
        "fc.switch.capacity": "审查人员变化",
        "fc.switch.holiday": "增加放假日",
        "fc.example.arrivals": "+30% 或 -20% 或 每日件数",
        "fc.example.capacity": "fire=-2, market=-30%",
        "fc.example.holiday": "2026-12-31:2027-01-03",
        "fc.computing": "正在计算预测…",
        "fc.baseline": "基准预测（{futures} 次模拟）",
        "fc.what_if": "假设情景：{said}（与基准用同样的随机数）",
        "fc.error": "假设无法计算：{error}",
        "fc.chart_all": "全部部门 · 每日红牌（红：预计，橙：80% 区间上限，青：假设情景）",
        "fc.chart_department": "{department} · 每日红牌（红：预计，橙：80% 区间上限，青：假设情景）",
        "fc.all": "全部部门",
        "fc.col.department": "部门",
        "fc.col.open": "在办",
        "fc.col.history": "依据",
        "fc.col.red": "预计红牌 [80%]",
        "fc.col.what_if": "假设情景",
        "fc.measured": "{n} 次办理",
        "fc.assumed": "按法定时限假设",
        "fc.assumption": "假设：{line}",
        "fc.assumed_departments": "按法定时限假设（近 180 天决定不足 {n} 次）：{names}",
    }
)
EN.update(
    {
        "screen.forecast": "Forecast",
        "bind.forecast": "Forecast",
        "fc.apply": "Apply the what-if",
        "fc.hint": "Red cards per day over the next 10 working days (expected, 80 % interval) · move in the table to see one department · Enter applies a what-if",
        "fc.switch.arrivals": "New cases",
        "fc.switch.capacity": "Reviewers",
        "fc.switch.holiday": "Extra days off",
        "fc.example.arrivals": "+30% or -20% or cases per day",
        "fc.example.capacity": "fire=-2, market=-30%",
        "fc.example.holiday": "2026-12-31:2027-01-03",
        "fc.computing": "Computing the forecast…",
        "fc.baseline": "Baseline ({futures} simulated futures)",
        "fc.what_if": "What-if: {said} (same random numbers as the baseline)",
        "fc.error": "The what-if cannot be computed: {error}",
        "fc.chart_all": "All departments · red cards per day (red: expected, orange: 80 % top, cyan: what-if)",
        "fc.chart_department": "{department} · red cards per day (red: expected, orange: 80 % top, cyan: what-if)",
        "fc.all": "All departments",
        "fc.col.department": "Department",
        "fc.col.open": "Open",
        "fc.col.history": "Based on",
        "fc.col.red": "Red cards [80 %]",
        "fc.col.what_if": "What-if",
        "fc.measured": "{n} decisions",
        "fc.assumed": "assumed: stated limits",
        "fc.assumption": "Assumed: {line}",
        "fc.assumed_departments": "Assumed at the chains' stated limits (fewer than {n} decisions in 180 days): {names}",
    }
)

CATALOGS: dict[str, dict[str, str]] = {"zh": ZH, "en": EN}

#: Stages and steps the engine itself names (every chain has them).
ENGINE_NAMES_EN: dict[str, str] = {
    "公示": "Publication",
    "事中事后核查": "Follow-up verification",
    "整改": "Rectification",
    "办结": "Concluded",
    "撤回": "Withdrawn",
    "待补正": "Awaiting materials",
    "补齐材料": "Bring the missing materials",
    "等待补齐材料": "Waiting for the missing materials",
    "出件": "Issuing",
}


#: The reform's own words for stages (DOMAIN.md's glossary), for a chain that does
#: not name them in English (``Chain.names_en`` wins): 「并联审查」 stayed Chinese
#: in the English console.
COMMON_NAMES_EN: dict[str, str] = {
    "受理": "Acceptance",
    "并联审查": "Parallel review",
    "并联审批": "Parallel approval",
    "并联决定": "Parallel decisions",
    "并联预审": "Parallel pre-review",
    "并联初审": "Parallel preliminary review",
    "并联办理": "Parallel processing",
    "联合踏勘": "Joint site survey",
    "实地检查": "Site inspection",
    "多图联审": "Joint drawing review",
    "多评合一": "Combined evaluations",
    "联合验收": "Joint acceptance",
    "用地规划": "Land-use planning",
    "工程建设许可": "Construction project permit",
    "施工许可": "Construction permit",
    "登记": "Registration",
    "营业执照": "Business licence",
    "营业执照登记": "Business licence registration",
}

#: At most this many characters in an English short chain name (the list's column).
SHORT_EN = 16


# Issue 26 (帮办代办): the 代办员 beside who holds a case, and 「我代办的」.
ZH.update(
    {
        "bind.mine": "我代办的",
        "cases.mine": "我代办的",
        "cases.agent": "代办员：{agent}",
        "cases.agent_short": "·代办 {agent}",
        "case.agent": "代办员",
        "case.no_agent": "（未指定）",
    }
)
EN.update(
    {
        "bind.mine": "My agent cases",
        "cases.mine": "cases I am agent of",
        "cases.agent": "Agent: {agent}",
        "cases.agent_short": " · agent {agent}",
        "case.agent": "Agent",
        "case.no_agent": "(none)",
    }
)


def _common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


class Catalog:
    """The strings of one language."""

    def __init__(
        self,
        lang: str = DEFAULT_LANGUAGE,
        department_names: Callable[[str], str] | None = None,
    ) -> None:
        """``department_names``: the office's names (``readmodel.departments``); without
        it, the code's list."""
        if lang not in CATALOGS:
            raise ValueError(f"unknown language {lang!r} (languages: {', '.join(LANGUAGES)})")
        self.lang = lang
        self._strings = CATALOGS[lang]
        self._department_names = department_names
        self._short: dict[str, str] = {}

    def t(self, key: str, **values: Any) -> str:
        text = self._strings.get(key) or ZH.get(key) or key
        return text.format(**values) if values else text

    def department(self, code: str | None) -> str:
        from domain.departments import department_name

        if not code:
            return ""
        office = self._department_names or department_name
        if self.lang == "en":
            return DEPARTMENTS_EN.get(code) or office(code)
        return office(code)

    def departments(self, codes: list[str]) -> str:
        return ("、" if self.lang == "zh" else ", ").join(self.department(c) for c in codes)

    def chain(self, code: str) -> str:
        import chains  # noqa: F401  (registers every chain)
        from workflows import registry

        try:
            chain = registry.get_chain(code)
        except LookupError:
            return code
        return chain.name_en if self.lang == "en" else chain.name_zh

    def chain_short(self, code: str) -> str:
        """The part of a chain's name that tells it from the others (我要开幼儿园 and
        我要开饭店 → 幼儿园, 饭店), for narrow columns."""
        cached = self._short.get(code)
        if cached is not None:
            return cached
        import chains  # noqa: F401
        from workflows import registry

        full = self.chain(code)
        others = [self.chain(c.code) for c in registry.all_chains() if c.code != code]
        shared = max((_common_prefix(full, other) for other in others), default=0)
        if self.lang == "en":  # cut at a word boundary
            shared = full.rfind(" ", 0, shared + 1) + 1 if shared else 0
        short = full[shared:].strip()
        if self.lang == "en":  # "Construction project: from …" → "Construction project";
            # "kindergarten" read as the chain's code: capitalised, it reads as a name
            short = short.split(":")[0].split(" (")[0].strip()
            short = short[:1].upper() + short[1:]
            if len(short) > SHORT_EN and " " in short[: SHORT_EN + 1]:  # whole words only
                short = short[: short.rfind(" ", 0, SHORT_EN + 1)]
        self._short[code] = short if len(short) >= 2 else full
        return self._short[code]

    def step(self, chain: str, name: str) -> str:
        """A stage's or task's name in this language: the English name the chain
        declares (``Chain.names_en``), else the name as the engine wrote it."""
        if self.lang == "zh" or not name:
            return name
        import chains  # noqa: F401
        from workflows import registry

        try:
            names = registry.get_chain(chain).names_en
        except LookupError:
            return name
        return names.get(name) or ENGINE_NAMES_EN.get(name) or COMMON_NAMES_EN.get(name, name)

    def refused(
        self,
        error: BaseException,
        *,
        state: Any = None,
        doing: str | None = None,
    ) -> str:
        """A refusal (``client.facade.CaseError`` with a code) in this language; its
        English message when it has no code or no wording. ``state``: the case, to
        name tasks; ``doing``: what the reader was doing (the form's action)."""
        code = getattr(error, "code", None)
        message = str(error)
        if code is None:
            return message
        task_name = None
        if state is not None:

            def task_name(task_id: str) -> str | None:
                task = state.task(task_id)
                return self.step(state.chain, task.name) if task is not None else None

        return word(
            self.t,
            self.lang,
            code,
            getattr(error, "params", {}) or {},
            message,
            department=self.department,
            task_name=task_name,
            doing=doing,
        )

    def codes(self, text: str) -> str:
        """``text`` as the engine wrote it (an event summary, an action's message) with
        the codes it names in parentheses (a special procedure's ``expert_review``) in
        this language's words."""
        from domain.case import SuspensionKind

        for kind in SuspensionKind:
            if kind.value in text:
                word = self.enum("suspension", kind.value)
                text = text.replace(f"（{kind.value}）", f"（{word}）")
                text = text.replace(f"({kind.value})", f"({word})")
        return text

    def role(self, role: str) -> str:
        return self.t(f"role.{role}")

    def enum(self, prefix: str, value: object) -> str:
        raw = getattr(value, "value", value)
        key = f"{prefix}.{raw}"
        text = self.t(key)
        return str(raw) if text == key else text
