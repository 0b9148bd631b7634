"""Public-opinion items (舆情): Chinese titles and texts assembled from a varied vocabulary."""

from __future__ import annotations

import numpy as np
import pandas as pd

# What went wrong, by penalty domain (negative items).
ISSUES = {
    "food": ["后厨卫生脏乱差", "使用过期食材", "餐具消毒不到位", "疑似食物中毒", "菜品中吃出异物", "无证从事食品经营",
             "食材来源不明", "从业人员未持健康证", "剩菜回收再利用", "冷库肉品变质", "添加剂超范围使用"],
    "drugs": ["销售过期药品", "处方药无处方销售", "药品储存条件不达标", "夸大药品疗效"],
    "quality": ["产品质量抽检不合格", "销售假冒伪劣商品", "以次充好", "商品标识不规范", "计量器具缺斤少两",
                "建材强度不达标"],
    "special_equipment": ["电梯故障困人", "观光索道停运检修", "锅炉未按期检验", "游乐设施存在安全隐患",
                          "特种设备作业人员无证上岗"],
    "price": ["景区商铺宰客", "明码标价不规范", "节假日房价暴涨", "强制消费", "价格欺诈", "收取高额服务费",
              "土特产漫天要价", "停车收费乱象"],
    "advertising": ["虚假宣传", "网络广告夸大其词", "宣传图片与实物严重不符", "冒用荣誉称号招揽顾客"],
    "consumer_rights": ["拒不退还预付款", "强迫游客购物", "服务态度恶劣", "预订后临时加价", "退订纠纷",
                        "导游辱骂游客", "会员卡跑路"],
    "unfair_competition": ["恶意刷单炒信", "仿冒知名商标", "低价团费诱导消费"],
    "registration": ["登记住所无法联系", "虚报注册资本"],
    "licensing": ["超范围经营", "许可证过期仍营业"],
    "other": ["噪音扰民", "占道经营", "消费纠纷频发", "员工讨薪"],
}
WHO = ["游客", "网友", "消费者", "市民", "住客", "家长", "自驾游客", "外地游客", "一位顾客", "多名食客"]
REACTION = ["怒斥", "投诉", "曝光", "发帖吐槽", "维权无门", "呼吁彻查", "求助媒体", "称体验极差"]
OFFICIAL = ["区市场监管局已介入调查", "相关部门已责令整改", "执法人员已赶赴现场核查", "涉事商家已被约谈",
            "监管部门表示将依法处理", "当地已成立联合调查组", "目前事件仍在调查中"]
PLACES = ["天生桥景区", "林海森林公园", "龙潭古镇", "溶洞景区", "老街", "夜市", "高铁站附近", "景区停车场",
          "国道旁", "游客集散中心"]
POSITIVE = ["获评诚信经营示范店", "热情服务获游客点赞", "拾金不昧暖人心", "入选放心消费示范单位",
            "明厨亮灶让人放心", "带动村民增收", "推出惠民价格", "获评星级农家乐", "通过食品安全量化A级评定"]
NEUTRAL = ["正式开业", "参加农产品展销会", "开展消防演练", "发布招聘信息", "举办开业促销", "完成门店升级改造",
           "迎来旅游旺季客流高峰", "签约新项目", "参与乡村振兴帮扶活动"]
SEASON = ["国庆黄金周", "五一假期", "春节期间", "暑期", "周末", "清明小长假", "端午期间", "近日", "日前", "昨日"]
DETAIL_NEG = ["现场照片显示卫生条件堪忧。", "多名当事人反映情况属实。", "视频在短视频平台播放量迅速攀升。",
              "评论区不少网友表示有过类似遭遇。", "记者多次联系商家未获回应。", "商家回应称系个别员工所为。",
              "涉事门店目前已暂停营业。", "有网友晒出消费小票。", "此前已有类似投诉。"]
DETAIL_POS = ["不少游客在评论区留言点赞。", "店主表示将坚持诚信经营。", "当地群众对此评价较高。",
              "该店已连续多年无投诉记录。", "相关做法值得推广。"]
DETAIL_NEU = ["活动吸引了不少市民参与。", "负责人介绍了下一步发展计划。", "现场秩序良好。", "预计将带动周边就业。"]


def _pick(rng: np.random.Generator, pool: list[str], n: int) -> np.ndarray:
    return np.array(pool, dtype=object)[rng.integers(0, len(pool), n)]


def compose(rng: np.random.Generator, *, sentiment: np.ndarray, domain: np.ndarray, short: np.ndarray,
            full: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Titles and texts for items of the given sentiment (0 negative, 1 neutral, 2 positive).

    ``domain`` names the issue of negative items; ``short`` is the name the item uses in its
    title (often a shortened name), ``full`` the name used in the text.
    """
    n = len(sentiment)
    title = np.empty(n, dtype=object)
    text = np.empty(n, dtype=object)
    neg = np.flatnonzero(sentiment == 0)
    if len(neg):
        issue = np.empty(len(neg), dtype=object)
        for d, pool in ISSUES.items():
            rows = np.flatnonzero(domain[neg] == d)
            issue[rows] = _pick(rng, pool, len(rows))
        miss = np.array([i is None for i in issue], dtype=bool)
        issue[miss] = _pick(rng, ISSUES["other"], int(miss.sum()))
        who, react, place = _pick(rng, WHO, len(neg)), _pick(rng, REACTION, len(neg)), _pick(rng, PLACES, len(neg))
        season, off = _pick(rng, SEASON, len(neg)), _pick(rng, OFFICIAL, len(neg))
        style = rng.integers(0, 4, len(neg))
        s = short[neg]
        t = np.where(style == 0, who + react + s + issue,
            np.where(style == 1, place + s + "被指" + issue,
            np.where(style == 2, season + s + issue + "，" + off,
                     "“" + issue + "”？" + s + "回应来了")))
        d1, d2 = _pick(rng, DETAIL_NEG, len(neg)), _pick(rng, DETAIL_NEG, len(neg))
        body = (season + "，有" + who + "反映，位于" + place + "附近的" + full[neg] + "存在" + issue + "问题。"
                + d1 + np.where(rng.random(len(neg)) < 0.6, d2, "") + off + "。")
        title[neg], text[neg] = t, body
    for code, pool, details in ((1, NEUTRAL, DETAIL_NEU), (2, POSITIVE, DETAIL_POS)):
        rows = np.flatnonzero(sentiment == code)
        if not len(rows):
            continue
        what, season = _pick(rng, pool, len(rows)), _pick(rng, SEASON, len(rows))
        style = rng.integers(0, 3, len(rows))
        s = short[rows]
        t = np.where(style == 0, s + what, np.where(style == 1, season + "，" + s + what, "【关注】" + s + what))
        body = (season + "，" + full[rows] + what + "。" + _pick(rng, details, len(rows))
                + np.where(rng.random(len(rows)) < 0.5, _pick(rng, details, len(rows)), ""))
        title[rows], text[rows] = t, body
    return title, text


def short_name(full: np.ndarray, district_short: str) -> np.ndarray:
    """The name an item uses in its title: the registered name, or without place prefix and legal form."""
    out = pd.Series(full, dtype="str")
    for suffix in ("有限责任公司", "股份有限公司", "有限公司", "专业合作社", "企业（有限合伙）"):
        has = out.str.endswith(suffix)
        out = out.where(~has, out.str.slice(0, -len(suffix)))
    for prefix in (district_short + "区", district_short, "贵州", "黔"):
        has = out.str.startswith(prefix) & (out.str.len() > len(prefix) + 2)
        out = out.where(~has, out.str.slice(len(prefix)))
    return out.to_numpy(dtype=object)


TWO_FIRM_SHAPES = {  # shape: (who is a target, what the text says); x is the firm at fault unless said otherwise
    0: ("x", "x at fault, y neutral, x named first"),
    1: ("x", "y praised first, x at fault second"),
    2: ("x", "y reports x: the reporter is named first and is not the target"),
    3: ("x", "x impersonates y"),
    4: ("xy", "both at fault"),
    5: ("", "neutral about both"),
    6: ("", "both praised"),
}


def two_firm_texts(rng: np.random.Generator, x: np.ndarray, y: np.ndarray, shape: np.ndarray, *,
                   domain: np.ndarray | None = None) -> tuple[list[str], list[str], list[list[str]]]:
    """Titles, texts and targets of items naming firms ``x`` and ``y`` in the given ``TWO_FIRM_SHAPES``.

    ``domain`` names the issue (a penalty domain) of each item; drawn at random where missing.
    """
    n = len(x)
    if domain is None:
        domain = np.full(n, None, dtype=object)
    domain = np.where([d in ISSUES for d in domain], domain,
                      np.asarray(list(ISSUES), dtype=object)[rng.integers(0, len(ISSUES), n)])
    issue = np.array([_pick(rng, ISSUES[d], 1)[0] for d in domain], dtype=object)
    who, season, off = _pick(rng, WHO, n), _pick(rng, SEASON, n), _pick(rng, OFFICIAL, n)
    pos, neu, det = _pick(rng, POSITIVE, n), _pick(rng, NEUTRAL, n), _pick(rng, DETAIL_NEU, n)
    detail_pos = _pick(rng, DETAIL_POS, n)
    titles, texts, targets = [], [], []
    for i in range(n):
        a, b, k = x[i], y[i], int(shape[i])
        if k == 0:
            titles.append(f"{who[i]}投诉{a}{issue[i]}")
            texts.append(f"{season[i]}，{who[i]}反映{a}{issue[i]}。同街区的{b}{neu[i]}。{off[i]}。")
        elif k == 1:
            titles.append(f"{b}{pos[i]}，{a}却被曝{issue[i]}")
            texts.append(f"{season[i]}，{b}{pos[i]}；与之相邻的{a}却被{who[i]}曝光{issue[i]}。{off[i]}。")
        elif k == 2:
            titles.append(f"{b}负责人反映{a}{issue[i]}")
            texts.append(f"{season[i]}，{b}负责人向记者反映，隔壁的{a}长期{issue[i]}。{off[i]}。")
        elif k == 3:
            titles.append(f"{a}冒用{b}名义{issue[i]}")
            texts.append(f"{season[i]}，有{who[i]}发现{a}冒用{b}的名义招揽顾客，存在{issue[i]}问题，{b}表示已报警。")
        elif k == 4:
            titles.append(f"{a}、{b}均被查出{issue[i]}")
            texts.append(f"{season[i]}，执法人员检查发现{a}和{b}均存在{issue[i]}问题。{off[i]}。")
        elif k == 5:
            titles.append(f"{a}与{b}{neu[i]}")
            texts.append(f"{season[i]}，{a}与{b}共同{neu[i]}。{det[i]}")
        else:
            titles.append(f"{a}、{b}{pos[i]}")
            texts.append(f"{season[i]}，{a}和{b}{pos[i]}。{detail_pos[i]}")
        who_is = TWO_FIRM_SHAPES[k][0]
        targets.append([f for f, tag in ((a, "x"), (b, "y")) if tag in who_is])
    return titles, texts, targets


def multi_entity_items(rng: np.random.Generator, names: np.ndarray, n: int) -> pd.DataFrame:
    """Labelled items naming two enterprises, for entity-level attribution: ``entities``, ``targets``.

    Shapes 0-5 of ``TWO_FIRM_SHAPES`` drawn evenly, named in either order. ``label`` is "negative" when the item
    has a target.
    """
    a = _pick(rng, list(names), n)
    b = _pick(rng, list(names), n)
    clash = a == b
    while clash.any():
        b[clash] = _pick(rng, list(names), int(clash.sum()))
        clash = a == b
    titles, texts, targets = two_firm_texts(rng, a, b, rng.integers(0, 6, n))
    swap = rng.random(n) < 0.5  # the order of the entity list says nothing
    entities = [[b[i], a[i]] if swap[i] else [a[i], b[i]] for i in range(n)]
    return pd.DataFrame({"title": titles, "text": texts, "entities": entities, "targets": targets,
                         "label": ["negative" if t else "neutral" for t in targets]})
