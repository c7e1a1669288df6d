"""Plausible, valid and entirely made-up applicants: Chinese names, resident ids with a
correct MOD 11-2 check character, credit codes with a correct GB 32100-2015 check
character, mobile numbers, addresses in Jining (济宁). Deterministic for a given
``random.Random``.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum import exceptions as stdnum_errors
from stdnum.cn import ric, uscc

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬浩宇轩然博文思雨欣怡子涵梓萱一诺俊杰"
#: Jining's districts and counties: (administrative division code, name).
DIVISIONS = (
    ("370811", "任城区"),
    ("370812", "兖州区"),
    ("370826", "微山县"),
    ("370827", "鱼台县"),
    ("370828", "金乡县"),
    ("370829", "嘉祥县"),
    ("370830", "汶上县"),
    ("370831", "泗水县"),
    ("370832", "梁山县"),
    ("370881", "曲阜市"),
    ("370883", "邹城市"),
)
STREETS = [
    "古槐路",
    "太白楼路",
    "红星路",
    "琵琶山路",
    "共青团路",
    "建设路",
    "洸河路",
    "吴泰闸路",
    "车站西路",
    "运河路",
    "仙营路",
    "崇文大道",
]
BRANDS = [
    "阳光",
    "金色",
    "春苗",
    "育才",
    "启明",
    "蓝天",
    "彩虹",
    "向日葵",
    "小星星",
    "博雅",
    "明德",
    "翰林",
    "鲁韵",
    "运河",
    "孔孟",
    "泉林",
    "微湖",
]
INDUSTRIES = ("教育咨询", "餐饮管理", "科技", "商贸", "建设工程", "文化传媒", "食品", "物业管理")
DISHES = ("鲁菜馆", "面馆", "水饺馆", "甏肉干饭", "火锅店", "烧烤", "快餐店", "茶餐厅", "羊肉汤馆")
BANKS = ("中国工商银行济宁分行", "中国建设银行济宁分行", "济宁银行", "中国农业银行济宁分行")
RESIDENT_WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))


def resident_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of a resident id's first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, RESIDENT_WEIGHTS, strict=True))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def resident_id(rng: random.Random, *, born_after: int = 1985, born_before: int = 2004) -> str:
    """A resident id valid for ``domain.ids``: its division code existed in the birth
    year (python-stdnum's table starts Jining's codes in 1983 or later)."""
    start = date(born_after, 1, 1)
    while True:
        division = rng.choice(DIVISIONS)[0]
        born = start + timedelta(days=rng.randrange((date(born_before, 12, 31) - start).days))
        first17 = f"{division}{born:%Y%m%d}{rng.randrange(1000):03d}"
        number = first17 + resident_check_char(first17)
        try:
            ric.validate(number)
        except stdnum_errors.ValidationError:
            continue
        return number


def credit_code(rng: random.Random) -> str:
    """A 统一社会信用代码 of a company (登记管理部门 9, 机构类别 1) in Jining."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "".join(rng.choice(alphabet) for _ in range(9))
    first17 = f"91{rng.choice(DIVISIONS)[0]}{body}"
    return first17 + uscc.calc_check_digit(first17)


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def company_name(rng: random.Random, industry: str | None = None) -> str:
    return f"济宁市{rng.choice(BRANDS)}{industry or rng.choice(INDUSTRIES)}有限公司"


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"


def address(rng: random.Random) -> str:
    _, district = rng.choice(DIVISIONS)
    return f"济宁市{district}{rng.choice(STREETS)}{rng.randrange(1, 300)}号"
