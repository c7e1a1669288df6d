"""Refusals in the reader's language.

The workflow refuses with a :class:`domain.refusal.Refusal` code and parameters (task
ids and names, department codes, numbers); this module words them: task ids with the
task's name (from the case when the caller has it), department codes by the
office's names, statuses and verdicts by the console's words. The console's catalog
(``tui/messages.py``) and the CLI's human output both use it. A code without
wording (an older or newer worker) shows the English message it came with.

Pure Python (no Textual): the CLI imports it too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.refusal import Refusal

#: ``refusal.<code>`` in each language. ``{task}`` is "T3（消防审查）", ``{department}``
#: a department's name, ``{doing}`` what the reader was doing (the form's action).
ZH: dict[str, str] = {
    "refusal.unspecified": "{message}",
    "refusal.reason_required": "请填写理由（{action}必须说明理由）",
    "refusal.case_not_running": "案件 {case_no} 已{status}，不能再办理",
    "refusal.unknown_task": "案件 {case_no} 没有任务 {task}（现有任务：{tasks}）",
    "refusal.task_not_open": "{task}已办结（{status}），不能再{doing}",
    "refusal.department_needed": "{task}由多个部门联合办理（{departments}），请选择部门",
    "refusal.department_not_in_task": "{department}不参与{task}（参与部门：{departments}）",
    "refusal.role_not_allowed": "{role}不能{action}（可以办理的角色：{allowed}）",
    "refusal.not_decided_by_department": "{task}不由部门作出决定",
    "refusal.verification_no_return": "{task}是核查任务，只能同意或不同意，不能退回补正",
    "refusal.task_awaits_supplement": "{task}已退回补正，正在等待：{items}",
    "refusal.already_decided": "{department}已对{task}作出决定（{verdict}），不能再{doing}",
    "refusal.material_already_received": "{material}已经收取（{source}），同一材料不能重复索要",
    "refusal.other_department": "{actor_department}的审查人员不能替{department}作出决定",
    "refusal.on_behalf_no_return": "代为决定只能同意或不同意",
    "refusal.no_time_limit": "{task}没有办理时限，无需延期",
    "refusal.already_extended": "{target}的时限已经延长过一次（+{days} 个工作日），不能再延期",
    "refusal.extension_too_long": "{target}最多延长 {max_days} 个工作日，申请了 {days} 个",
    "refusal.unknown_department": "没有部门“{department}”",
    "refusal.department_already_in_task": "{department}已参与{task}，不能转办给它",
    "refusal.reviewer_not_in_task": "{actor_department}不参与{task}",
    "refusal.task_stopped_for_supplement": "{task}已因退回补正停止计时",
    "refusal.special_already_running": "{task}已有特别程序在进行",
    "refusal.no_such_special": "没有进行中的特别程序 {suspension}",
    "refusal.special_ends_by_applicant": "{suspension}在申请人补齐后自动结束，不能手工结束",
    "refusal.reviewer_not_in_special": "{actor_department}不参与特别程序 {suspension}",
    "refusal.task_not_returned": "{task}没有退回补正",
    "refusal.items_not_missing_in_task": "{task}没有缺少：{items}（缺少的是：{missing}）",
    "refusal.not_waiting_for_event": "案件没有在等待“{event}”（正在等待：{waiting}）",
    "refusal.not_concluded_yet": "案件 {case_no} 尚未办结，办结后才能评价",
    "refusal.already_rated": "案件 {case_no} 已评价过（{score} 分）",
    "refusal.not_rectification": "{task}不是整改任务",
    "refusal.materials_not_missing": "这些材料并不缺少：{items}（缺少的是：{missing}）",
    "refusal.case_withdrawing": "案件正在撤回，不能再办理",
    "refusal.already_agent": "{agent} 已是案件 {case_no} 的代办员",
    "refusal.unknown_user": "没有用户 {user}，或该用户已停用",
    "refusal.case_not_found": "找不到案件 {case_no}",
    "refusal.case_closed": "案件 {case_no} 已结束，不能再办理",
    "refusal.not_permitted": "身份核验未通过：{message}",
    "refusal.doing": "办理",
    "refusal.case": "整个案件",
    "refusal.none": "无",
    "refusal.stale": "{task}刚刚已被处理（{status}），请关闭表单重新选择",
}

EN: dict[str, str] = {
    "refusal.unspecified": "{message}",
    "refusal.reason_required": "A reason is required ({action})",
    "refusal.case_not_running": "Case {case_no} is {status}; no more actions",
    "refusal.unknown_task": "Case {case_no} has no task {task} (tasks: {tasks})",
    "refusal.task_not_open": "{task} is already concluded ({status})",
    "refusal.department_needed": "{task} is joint ({departments}): choose the department",
    "refusal.department_not_in_task": "{department} has no part in {task} (departments: {departments})",
    "refusal.role_not_allowed": "A {role} may not {action} (allowed: {allowed})",
    "refusal.not_decided_by_department": "{task} is not decided by a department",
    "refusal.verification_no_return": "{task} is a verification: approve or reject it",
    "refusal.task_awaits_supplement": "{task} was returned and waits for: {items}",
    "refusal.already_decided": "{department} already decided {task} ({verdict})",
    "refusal.material_already_received": "{material} was already received ({source}); a material is never asked for twice",
    "refusal.other_department": "A reviewer of {actor_department} may not decide for {department}",
    "refusal.on_behalf_no_return": "On behalf, only approve or reject",
    "refusal.no_time_limit": "{task} has no time limit to extend",
    "refusal.already_extended": "The limit of {target} was already extended once (+{days})",
    "refusal.extension_too_long": "{target}: at most {max_days} working days, asked {days}",
    "refusal.unknown_department": "No department '{department}'",
    "refusal.department_already_in_task": "{department} already has a part in {task}",
    "refusal.reviewer_not_in_task": "{actor_department} has no part in {task}",
    "refusal.task_stopped_for_supplement": "{task} is already stopped for supplement",
    "refusal.special_already_running": "{task} already has a special procedure running",
    "refusal.no_such_special": "No running special procedure {suspension}",
    "refusal.special_ends_by_applicant": "{suspension} ends when the applicant acts, not by hand",
    "refusal.reviewer_not_in_special": "{actor_department} has no part in {suspension}",
    "refusal.task_not_returned": "{task} was not returned for supplement",
    "refusal.items_not_missing_in_task": "Not missing in {task}: {items} (missing: {missing})",
    "refusal.not_waiting_for_event": "The case is not waiting for '{event}' (waiting for: {waiting})",
    "refusal.not_concluded_yet": "Case {case_no} is not concluded yet; rate it afterwards",
    "refusal.already_rated": "Case {case_no} was already rated ({score})",
    "refusal.not_rectification": "{task} is not a rectification task",
    "refusal.materials_not_missing": "Not missing: {items} (missing: {missing})",
    "refusal.case_withdrawing": "The case is being withdrawn; no more actions",
    "refusal.already_agent": "{agent} is already the agent of case {case_no}",
    "refusal.unknown_user": "Unknown or disabled user {user}",
    "refusal.case_not_found": "No case {case_no}",
    "refusal.case_closed": "Case {case_no} is closed; no more actions",
    "refusal.not_permitted": "Not permitted: {message}",
    "refusal.doing": "acted on",
    "refusal.case": "the whole case",
    "refusal.none": "none",
    "refusal.stale": "{task} was just decided ({status}); close the form and choose again",
}

#: The English action labels the domain's role and reason checks name, in Chinese.
ACTIONS_ZH: dict[str, str] = {
    "decide": "作出决定",
    "decide on behalf": "代为决定",
    "extend": "延期",
    "reassign": "转办",
    "urge": "催办",
    "start special procedure": "启动特别程序",
    "end special procedure": "结束特别程序",
    "record supplement": "登记补正材料",
    "report applicant event": "登记申请人告知",
    "supply materials": "补交材料",
    "rate": "评价",
    "rectify": "整改",
    "withdraw": "撤回",
    "verify": "核查",
}

#: Parameters holding department codes, and lists of them.
_DEPARTMENT = {"department", "actor_department"}
_DEPARTMENTS = {"departments"}


def word(
    t: Callable[..., str],
    lang: str,
    code: Any,
    params: dict[str, Any],
    fallback: str,
    *,
    department: Callable[[str], str],
    task_name: Callable[[str], str | None] | None = None,
    doing: str | None = None,
) -> str:
    """The refusal ``code`` with ``params`` in the catalog's language.

    ``t`` is the catalog's lookup (``Catalog.t``), ``department`` names a department
    code, ``task_name`` names a task id from the case at hand (else the name the
    refusal carries), ``doing`` is what the reader was doing (a form's action). An
    unknown code, or wording that needs a parameter the refusal lacks, gives
    ``fallback`` (the English message).
    """
    try:
        refusal = Refusal(str(code))
    except ValueError:
        return fallback
    key = f"refusal.{refusal.value}"
    template = t(key)
    if template == key:
        return fallback
    zh = lang == "zh"
    joiner = "、" if zh else ", "
    values: dict[str, str] = {}
    for name, value in params.items():
        if name in _DEPARTMENT:
            values[name] = department(str(value))
        elif name in _DEPARTMENTS:
            values[name] = joiner.join(department(str(v)) for v in value or [])
        elif name == "role":
            values[name] = t(f"role.{value}")
        elif name == "allowed":
            values[name] = joiner.join(t(f"role.{v}") for v in value or [])
        elif name == "verdict":
            values[name] = t(f"verdict.{value}")
        elif name == "status":
            values[name] = _status(t, refusal, str(value))
        elif name == "action":
            values[name] = ACTIONS_ZH.get(str(value), str(value)) if zh else str(value)
        elif isinstance(value, list):
            values[name] = joiner.join(str(v) for v in value) or t("refusal.none")
        else:
            values[name] = str(value)
    if "task" in params:
        values["task"] = task_label(lang, str(params["task"]), params, task_name)
    if "target" in params:
        target = str(params["target"])
        values["target"] = (
            t("refusal.case")
            if target == "case"
            else task_label(lang, target, {"task": target}, task_name)
        )
    values.setdefault("doing", doing or t("refusal.doing"))
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return fallback


def task_label(
    lang: str,
    task_id: str,
    params: dict[str, Any],
    task_name: Callable[[str], str | None] | None,
) -> str:
    """ "T3（消防审查）": the id and the task's name (from the case, else the refusal)."""
    name = (task_name(task_id) if task_name else None) or params.get("task_name")
    if not name:
        return task_id
    return f"{task_id}（{name}）" if lang == "zh" else f"{task_id} ({name})"


def _status(t: Callable[..., str], refusal: Refusal, value: str) -> str:
    """A task's status for task refusals, a case's status for the case's."""
    prefix = "status" if refusal is Refusal.CASE_NOT_RUNNING else "task"
    key = f"{prefix}.{value}"
    text = t(key)
    return value if text == key else text
