"""Synthetic Chinese names and ID numbers, drawn vectorised (persons derive from an index, not a stream)."""

from __future__ import annotations

import numpy as np

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文红梅玉云飞鹏辉波宇浩凯俊峰琳雪晨欣怡佳子涵"
    "宏志远海燕丹萍春林兴贵福顺发才祥德成荣光正永昌安江山松青燕琴蓉婷倩莉颖洁晓东南学家中新立胜利友"
)
BRANDS = (
    "山水云岭青岚黔灵翠峰溪谷林泉石桥竹园茶乡金穗丰源兴隆宏达盛世鸿运锦绣福瑞祥和恒信诚泰嘉禾众合天成"
    "博远华夏龙腾凤鸣鑫源聚丰佳美欣荣万通顺达永盛富民绿野清风明月星光彩虹晨曦朝阳映山银杏红枫苗乡布依"
)
ROADS = ("人民路", "解放路", "中山路", "建设路", "新华路", "民族路", "花园路", "滨河路", "文化路", "兴业大道",
         "环城路", "迎宾大道", "茶城路", "景区大道", "工业园路", "长征路", "民主路", "团结路")
CLUSTER_SITES = ("创业孵化园综合楼", "电子商务产业园", "商务中心大厦", "农产品交易市场", "旅游集散中心",
                 "建材产业园管理楼", "新能源产业园服务中心", "小微企业创业基地", "万达商业广场", "汽车客运站商铺")

_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.array(list("10X98765432"))
_SURNAME_W = np.linspace(3.0, 0.3, len(SURNAMES)) ** 2


def mix(x: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 of ``x`` under ``salt``: a stateless, chunk-independent pseudo-random uint64 per index."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + np.uint64(salt & 0xFFFFFFFF) * np.uint64(0x9E3779B97F4A7C15)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return z


def _pick(chars: str, h: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    arr = np.array(list(chars), dtype=object)
    if weights is None:
        return arr[(h % np.uint64(len(arr))).astype(np.int64)]
    cum = np.cumsum(weights / weights.sum())
    u = (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)
    return arr[np.minimum(np.searchsorted(cum, u), len(arr) - 1)]


def surnames(index: np.ndarray, *, seed: int) -> np.ndarray:
    """The surnames of ``person_names`` alone."""
    return _pick(SURNAMES, mix(index, seed * 16 + 1), _SURNAME_W)


def person_names(index: np.ndarray, *, seed: int) -> np.ndarray:
    """Synthetic Chinese names (surname + one or two given characters) for person indices."""
    h2, h3, h4 = (mix(index, seed * 16 + k) for k in (2, 3, 4))
    names = surnames(index, seed=seed) + _pick(GIVEN, h2)
    two = (h4 % np.uint64(100)) < np.uint64(62)
    names[two] = names[two] + _pick(GIVEN, h3[two])
    return names


def id_numbers(index: np.ndarray, *, seed: int, region_codes: list[str]) -> np.ndarray:
    """Unique 18-digit resident ID numbers (GB 11643: region, birth date, sequence, MOD 11-2 check).

    Index ``i`` maps to a distinct (region, birth day, sequence) through an affine permutation,
    so no two persons share a number.
    """
    if not len(index):
        return np.zeros(0, dtype=object)
    n_regions, n_days, n_seq = len(region_codes), 18262, 999  # birth days 1950-01-01 .. 1999-12-31
    space = n_regions * n_days * n_seq
    a = 2_654_435_761 % space
    while np.gcd(a, space) != 1:
        a += 1
    b = int(mix(np.array([seed]), 99)[0] % np.uint64(space))
    p = (np.asarray(index, dtype=np.int64) % space * a + b) % space
    region = p % n_regions
    day = (p // n_regions) % n_days
    seq = p // (n_regions * n_days) + 1
    birth = (np.datetime64("1950-01-01") + day.astype("timedelta64[D]")).astype(str)
    body = (np.array(region_codes, dtype=object)[region] + np.char.replace(birth, "-", "").astype(object)
            + np.char.zfill(seq.astype(str), 3).astype(object))
    if not len(body):
        return body
    digits = (np.frombuffer("".join(body).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48).astype(np.int64)
    return body + _ID_CHECK[(digits @ _ID_WEIGHTS) % 11].astype(object)
