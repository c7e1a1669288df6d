"""The departments chains may name. ``chains check`` rejects any other code."""

DEPARTMENTS: dict[str, str] = {
    "window": "政务服务中心综合窗口",
    "education": "教育局",
    "fire": "消防救援支队",
    "health": "卫生健康委",
    "market": "市场监管局",
    "civil_affairs": "民政局",
    "urban": "城市管理局",
    "ecology": "生态环境局",
    "public_security": "公安局",
    "bank": "开户银行",
    "tax": "税务局",
    "hrss": "人力资源社会保障局",
    "natural_resources": "自然资源和规划局",
    "housing": "住房城乡建设局",
    "civil_defence": "人防办",
    "water": "水利局",
    "seismic": "地震局",
    "traffic": "交通运输局",
    "quality": "工程质量监督站",
    "archives": "城建档案馆",
    "development": "发展改革委",
    "culture_tourism": "文化和旅游局",
    "sports": "体育局",
    "talent": "人才工作领导小组办公室（人才办）",
}


def department_name(code: str) -> str:
    return DEPARTMENTS.get(code, code)
