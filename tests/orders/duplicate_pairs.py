"""Synthetic pairs of request texts, labelled duplicate (the same need, said by two
neighbours in their own words) or not (the same category, another need), in Simplified
Chinese as residents type them. Seeded: the same pairs on every run.

Each need has several ways of saying it (synonyms, word order, with or without the thing's
place); a resident adds an opening, a detail of their own and a closing. The hard cases are
deliberate: two needs of one category share words (a tap that leaks vs. a tap to replace),
and one need may be said with no word in common (水龙头漏水 vs. 厨房一直滴水).

Used by tests/orders/test_duplicates.py (precision and recall of `orders.duplicates` at the
configured threshold) and bench/duplicates.py (bigrams against jieba, every threshold).
"""

from __future__ import annotations

import random

NEEDS: dict[str, dict[str, list[str]]] = {
    "repair": {
        "tap_leak": ["厨房水龙头漏水", "水龙头一直在漏水", "厨房一直滴水关不紧", "水龙头坏了漏水", "洗手池的龙头漏水"],
        "tap_replace": ["想换一个新水龙头", "水龙头太旧了要换新的", "帮忙装个新龙头"],
        "light": ["客厅的灯不亮了", "灯泡坏了需要换", "电灯打不开，可能灯管坏了", "客厅灯泡烧了"],
        "lock": ["门锁坏了打不开", "大门的锁芯卡住了", "钥匙插不进门锁"],
        "toilet": ["马桶堵住了", "厕所冲不下去堵了", "卫生间马桶不通"],
    },
    "errands": {
        "medicine": ["帮我去药店取药", "去医院配药", "帮忙买降压药", "到社区医院拿药"],
        "groceries": ["帮我买菜", "去菜市场买点青菜和鸡蛋", "帮忙买米和油", "超市买些日用品和菜"],
        "bills": ["帮忙交电费", "去营业厅交水电费", "帮我缴燃气费"],
        "parcel": ["帮我去驿站取快递", "楼下快递点有个包裹要拿", "取一个快递包裹"],
    },
    "digital": {
        "phone_video": ["教我用手机视频通话", "想学微信视频聊天", "手机上怎么和孙子视频"],
        "health_code": ["手机挂号不会弄", "教我在手机上预约挂号", "网上挂号怎么操作"],
        "payment": ["教我用手机付款", "扫码支付不会用", "微信付钱怎么弄"],
        "tv": ["电视没有信号了", "机顶盒连不上，电视看不了", "电视遥控器调不出台"],
    },
    "cleaning": {
        "window": ["帮忙擦窗户", "窗户玻璃太脏了要擦", "高处的窗户够不着擦"],
        "kitchen": ["厨房油烟机要清洗", "抽油烟机太油了", "帮忙清洗油烟机和灶台"],
        "move_trash": ["家里旧家具要搬下楼扔掉", "有个旧沙发要搬走", "帮忙把旧柜子搬到楼下"],
    },
    "company": {
        "chat": ["一个人在家想找人聊聊天", "老伴走了，想有人陪我说说话", "希望有人来陪我聊天"],
        "walk": ["想有人陪我去公园散步", "腿脚不便，想有人扶我下楼走走", "陪我出去晒晒太阳散散步"],
        "hospital": ["陪我去医院看病", "下周要去医院复查，想有人陪同", "看病需要有人陪着去"],
    },
}

OPENINGS = ["", "你好，", "您好，", "麻烦一下，", "请问有人能帮忙吗？", "我是独居老人，", "我腿脚不方便，", "我家老人"]
DETAILS = [
    "",
    "我住三楼",
    "最好今天下午",
    "明天上午有空",
    "我年纪大了弄不了",
    "周末也可以",
    "已经好几天了",
    "比较着急",
    "家里只有我一个人",
]
CLOSINGS = ["", "谢谢！", "谢谢你们。", "麻烦了。", "非常感谢", "辛苦了"]


def say(rng: random.Random, phrase: str) -> str:
    """One resident's text for a need: opening, the need, maybe a detail, closing."""
    parts = [rng.choice(OPENINGS) + phrase]
    detail = rng.choice(DETAILS)
    if detail:
        parts.append(detail)
    closing = rng.choice(CLOSINGS)
    return "，".join(parts) + ("，" + closing if closing else "。")


def pairs(n: int = 400, seed: int = 17) -> list[tuple[str, str, bool]]:
    """`n` pairs (text, text, same need?), half of them duplicates, all within one category."""
    rng = random.Random(seed)
    out: list[tuple[str, str, bool]] = []
    categories = sorted(NEEDS)
    for i in range(n):
        needs = NEEDS[categories[i % len(categories)]]
        if i % 2 == 0:
            phrases = needs[rng.choice(sorted(needs))]
            a, b = rng.choice(phrases), rng.choice(phrases)
            out.append((say(rng, a), say(rng, b), True))
        else:
            first, second = rng.sample(sorted(needs), 2)
            out.append((say(rng, rng.choice(needs[first])), say(rng, rng.choice(needs[second])), False))
    return out


def precision_recall(scores: list[tuple[float, bool]], threshold: float) -> tuple[float, float]:
    """Of the pairs scored at least `threshold`, how many are duplicates (precision); of the
    duplicates, how many are scored at least `threshold` (recall)."""
    flagged = [dup for score, dup in scores if score >= threshold]
    duplicates = sum(dup for _score, dup in scores)
    hits = sum(flagged)
    precision = hits / len(flagged) if flagged else 1.0
    recall = hits / duplicates if duplicates else 1.0
    return precision, recall
