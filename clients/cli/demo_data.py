"""Synthetic but plausible data for ``bashu demo``, generated from one seed.

Nothing here is real: every enterprise, person, road station, hospital and parcel
is made up. The identifiers are well formed, though, so the data behaves like the
real thing wherever a check digit or a mask matters::

    data = generate(seed=20261128)
    data.enterprises.num_rows                  # the Sichuan legal-person registry
    is_valid_uscc(data.enterprises["uscc"][0].as_py())   # True
    is_valid_id_number(data.enterprises["legal_rep_id_no"][0].as_py())   # True

* Unified social credit codes (统一社会信用代码, GB 32100-2015): registration
  authority, organisation category, administrative division, a GB 11714
  organisation code with its own check character, and the mod-31 check character.
* Resident identity numbers (GB 11643-1999): division, birth date, sequence (odd
  for men) and the ISO 7064 MOD 11-2 check character.

The same seed always gives the same tables (``random.Random``, never the global
generator or the clock), so a demo run can be compared with another.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa

__all__ = [
    "DEFAULT_SEED",
    "DemoData",
    "generate",
    "id_number",
    "is_valid_id_number",
    "is_valid_uscc",
    "organisation_code",
    "uscc",
]

DEFAULT_SEED = 20261128

# GB 32100-2015: the 31 characters of a credit code (no I, O, S, V, Z) and weights.
USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
# GB 11714-1997 organisation code check weights.
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
# GB 11643-1999 identity number weights and check characters.
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"

# (division code, district name)
SC_DISTRICTS = [
    ("510104", "成都市锦江区"),
    ("510105", "成都市青羊区"),
    ("510106", "成都市金牛区"),
    ("510107", "成都市武侯区"),
    ("510108", "成都市成华区"),
    ("510116", "成都市双流区"),
    ("510703", "绵阳市涪城区"),
    ("510603", "德阳市旌阳区"),
    ("511102", "乐山市市中区"),
    ("511302", "南充市顺庆区"),
]
CQ_DISTRICTS = [
    ("500103", "重庆市渝中区"),
    ("500105", "重庆市江北区"),
    ("500106", "重庆市沙坪坝区"),
    ("500107", "重庆市九龙坡区"),
    ("500108", "重庆市南岸区"),
    ("500112", "重庆市渝北区"),
    ("500101", "重庆市万州区"),
    ("500102", "重庆市涪陵区"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玉兰德文斌宇浩川渝蓉嘉睿欣怡"
TRADE_NAMES = [
    "锦程", "天府", "蜀道", "巴渝", "嘉陵", "峨眉", "青城", "岷江", "长江", "两江",
    "金沙", "宏图", "瑞丰", "鼎盛", "恒通", "华西", "西部", "川渝", "蓉城", "山城",
    "云栖", "博远", "汇智", "启航", "新程", "同创", "众合", "立信", "安达", "锐思",
]  # fmt: skip
INDUSTRIES = [
    ("智能科技", "I65", "软件和信息技术服务业"),
    ("物流", "G58", "装卸搬运和仓储业"),
    ("食品", "C14", "食品制造业"),
    ("建设工程", "E48", "土木工程建筑业"),
    ("医药", "F51", "批发业"),
    ("餐饮管理", "H62", "餐饮业"),
    ("文化传媒", "R86", "广播、电视、电影和录音制作业"),
    ("汽车零部件", "C36", "汽车制造业"),
    ("电子", "C39", "计算机、通信和其他电子设备制造业"),
    ("农业开发", "A01", "农业"),
]
ENTERPRISE_FORMS = ["有限公司", "有限责任公司", "股份有限公司"]
STATUSES = [("存续", 0.86), ("在业", 0.08), ("吊销", 0.03), ("注销", 0.03)]

SC_ROADS = [
    ("G5", "京昆高速成绵段", "510703"),
    ("G76", "厦蓉高速成自泸段", "510116"),
    ("G93", "成渝环线成都段", "510104"),
    ("G85", "成渝高速成都段", "510108"),
    ("S1", "成温邛快速路", "510105"),
    ("X01", "天府大道", "510107"),
    ("X02", "二环路高架", "510106"),
    ("X03", "人民南路", "510107"),
    ("G42", "沪蓉高速南充段", "511302"),
    ("G93", "成渝环线乐山段", "511102"),
]
HOSPITALS = [
    ("H500103001", "重庆医科大学附属第一医院", "500103"),
    ("H500103002", "重庆市人民医院", "500103"),
    ("H500105001", "重庆市第六人民医院", "500105"),
    ("H500106001", "陆军军医大学第一附属医院", "500106"),
    ("H500107001", "重庆市第九人民医院", "500107"),
    ("H500108001", "重庆市中医院南岸院区", "500108"),
    ("H500112001", "重庆医科大学附属第二医院", "500112"),
    ("H500101001", "重庆三峡中心医院", "500101"),
    ("H500102001", "重庆市涪陵中心医院", "500102"),
]
DEPARTMENTS = ["内科", "外科", "儿科", "妇产科", "重症医学科", "急诊科", "肿瘤科", "康复科"]
LAND_USES = [
    ("05", "商业服务业用地"),
    ("07", "居住用地"),
    ("08", "公共管理与公共服务用地"),
    ("09", "工业用地"),
    ("12", "交通运输用地"),
    ("14", "绿地与开敞空间用地"),
    ("01", "耕地"),
    ("03", "林地"),
]


# -- identifiers -----------------------------------------------------------------------


def _org_check(body: str) -> str:
    total = sum(
        (int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, ORG_WEIGHTS, strict=True)
    )
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def organisation_code(body: str) -> str:
    """A GB 11714 organisation code: 8 digits or capitals and the check character."""
    if len(body) != 8:
        raise ValueError("an organisation code body has 8 characters")
    return body + _org_check(body)


def _uscc_check(first17: str) -> str:
    total = sum(USCC_CHARS.index(c) * w for c, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_CHARS[(31 - total % 31) % 31]


def uscc(division: str, org_body: str, authority: str = "9", category: str = "1") -> str:
    """A unified social credit code (authority 9 = market regulation, category 1 =
    enterprise) for an administrative division and an organisation code body."""
    first = authority + category + division + organisation_code(org_body)
    return first + _uscc_check(first)


def is_valid_uscc(code: str) -> bool:
    """Whether ``code`` is 18 credit-code characters whose both check characters hold."""
    if len(code) != 18 or any(c not in USCC_CHARS for c in code):
        return False
    org = code[8:17]
    if any(not (c.isdigit() or c.isupper()) for c in org[:8]):
        return False
    return _org_check(org[:8]) == org[8] and _uscc_check(code[:17]) == code[17]


def id_number(division: str, born: date, sequence: int) -> str:
    """A resident identity number (``sequence`` 0-999; odd for men)."""
    first = f"{division}{born:%Y%m%d}{sequence % 1000:03d}"
    total = sum(int(c) * w for c, w in zip(first, ID_WEIGHTS, strict=True))
    return first + ID_CHECK[total % 11]


def is_valid_id_number(value: str) -> bool:
    if len(value) != 18 or not value[:17].isdigit():
        return False
    try:
        datetime.strptime(value[6:14], "%Y%m%d")
    except ValueError:
        return False
    total = sum(int(c) * w for c, w in zip(value[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == value[17]


# -- tables ----------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoData:
    """Every table the demo lists, by product."""

    enterprises: pa.Table  # Sichuan legal-person registry
    traffic: pa.Table  # Sichuan road traffic counts
    licences: pa.Table  # Chongqing electronic business licences (verify only)
    beds: pa.Table  # Chongqing hospital bed availability (anonymised)
    parcels: pa.Table  # Chongqing land parcels (important grade)
    day: date  # the day the counts and bed figures describe


def _person(rng: random.Random) -> str:
    given = rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def _weighted(rng: random.Random, options: list[tuple[str, float]]) -> str:
    return rng.choices([o for o, _ in options], [w for _, w in options])[0]


def _enterprise_rows(
    rng: random.Random, districts: list[tuple[str, str]], n: int, start_seq: int
) -> list[dict[str, object]]:
    city_of = {"51": "四川", "50": "重庆"}
    rows: list[dict[str, object]] = []
    used: set[str] = set()
    seq = start_seq
    while len(rows) < n:
        seq += 1
        division, district = rng.choice(districts)
        trade = rng.choice(TRADE_NAMES) + rng.choice(TRADE_NAMES)
        suffix, industry_code, industry = rng.choice(INDUSTRIES)
        name = f"{city_of[division[:2]]}{trade}{suffix}{rng.choice(ENTERPRISE_FORMS)}"
        if name in used:
            continue
        used.add(name)
        body = f"{rng.randrange(10**7, 10**8)}"
        rep_born = date(1955, 1, 1) + timedelta(days=rng.randrange(0, 365 * 45))
        rows.append(
            {
                "uscc": uscc(division, body),
                "name": name,
                "legal_rep": _person(rng),
                "legal_rep_id_no": id_number(
                    rng.choice(districts)[0], rep_born, rng.randrange(1, 999)
                ),
                "registered_capital_wan": rng.choice([10, 50, 100, 200, 500, 1000, 3000, 10000]),
                "established": date(1995, 1, 1) + timedelta(days=rng.randrange(0, 365 * 30)),
                "district": district,
                "industry_code": industry_code,
                "industry": industry,
                "status": _weighted(rng, STATUSES),
            }
        )
    return rows


ENTERPRISE_SCHEMA = pa.schema(
    [
        ("uscc", pa.string()),
        ("name", pa.string()),
        ("legal_rep", pa.string()),
        ("legal_rep_id_no", pa.string()),
        ("registered_capital_wan", pa.int64()),
        ("established", pa.date32()),
        ("district", pa.string()),
        ("industry_code", pa.string()),
        ("industry", pa.string()),
        ("status", pa.string()),
    ]
)


def _traffic(rng: random.Random, day: date) -> pa.Table:
    rows: list[dict[str, object]] = []
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=8)  # CST
    for i, (road_code, road, division) in enumerate(SC_ROADS):
        district = dict(SC_DISTRICTS)[division]
        base = rng.randrange(600, 2400) if road_code.startswith("G") else rng.randrange(300, 1500)
        for direction in ("上行", "下行"):
            for hour in range(24):
                # Two peaks (08:00, 18:00) over a night trough.
                shape = 0.15 + 0.85 * max(
                    0.0, 1 - abs(hour - 8) / 4, 1 - abs(hour - 18) / 4, 0.45 * (6 < hour < 22)
                )
                cars = int(base * shape * rng.uniform(0.85, 1.15))
                trucks = int(cars * (0.35 if road_code.startswith("G") else 0.08) * rng.random())
                rows.append(
                    {
                        "station_id": f"SC-{road_code}-{i:02d}",
                        "road": f"{road_code} {road}",
                        "district": district,
                        "direction": direction,
                        "hour_start": start + timedelta(hours=hour),
                        "passenger_cars": cars,
                        "trucks": trucks,
                        "buses": int(cars * 0.04 * rng.random()),
                        "avg_speed_kmh": round(
                            (95 if road_code.startswith("G") else 42) * (1.1 - 0.5 * shape), 1
                        ),
                    }
                )
    schema = pa.schema(
        [
            ("station_id", pa.string()),
            ("road", pa.string()),
            ("district", pa.string()),
            ("direction", pa.string()),
            ("hour_start", pa.timestamp("us", tz="UTC")),
            ("passenger_cars", pa.int64()),
            ("trucks", pa.int64()),
            ("buses", pa.int64()),
            ("avg_speed_kmh", pa.float64()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _beds(rng: random.Random, day: date) -> pa.Table:
    rows: list[dict[str, object]] = []
    as_of = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)  # 09:00 CST
    for code, hospital, division in HOSPITALS:
        district = dict(CQ_DISTRICTS)[division]
        for dept in DEPARTMENTS:
            total = rng.randrange(20, 160)
            occupied = min(total, int(total * rng.uniform(0.62, 1.0)))
            rows.append(
                {
                    "ward_id": f"{code}-{DEPARTMENTS.index(dept):02d}",
                    "hospital": hospital,
                    "district": district,
                    "department": dept,
                    "beds_total": total,
                    "beds_occupied": occupied,
                    "beds_available": total - occupied,
                    "as_of": as_of,
                }
            )
    schema = pa.schema(
        [
            ("ward_id", pa.string()),
            ("hospital", pa.string()),
            ("district", pa.string()),
            ("department", pa.string()),
            ("beds_total", pa.int64()),
            ("beds_occupied", pa.int64()),
            ("beds_available", pa.int64()),
            ("as_of", pa.timestamp("us", tz="UTC")),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def _parcels(rng: random.Random, n: int) -> pa.Table:
    rows: list[dict[str, object]] = []
    for i in range(n):
        division, district = rng.choice(CQ_DISTRICTS)
        use_code, use = rng.choice(LAND_USES)
        rows.append(
            {
                "parcel_id": f"{division}{rng.randrange(1, 999):03d}GB{i + 1:05d}",
                "district": district,
                "land_use_code": use_code,
                "land_use": use,
                "area_m2": round(rng.uniform(800, 120_000), 2),
                "centroid_lon": round(rng.uniform(106.30, 106.75), 6),
                "centroid_lat": round(rng.uniform(29.35, 29.80), 6),
                "tenure": rng.choice(["国有建设用地使用权", "集体土地所有权", "国有农用地使用权"]),
            }
        )
    schema = pa.schema(
        [
            ("parcel_id", pa.string()),
            ("district", pa.string()),
            ("land_use_code", pa.string()),
            ("land_use", pa.string()),
            ("area_m2", pa.float64()),
            ("centroid_lon", pa.float64()),
            ("centroid_lat", pa.float64()),
            ("tenure", pa.string()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def generate(seed: int = DEFAULT_SEED, *, enterprises: int = 2000) -> DemoData:
    """Every table of the demo, the same for the same seed."""
    rng = random.Random(seed)
    day = date(2026, 11, 27)
    sc_rows = _enterprise_rows(rng, SC_DISTRICTS, enterprises, 0)
    cq_rows = _enterprise_rows(rng, CQ_DISTRICTS, max(200, enterprises // 4), 0)
    licences = pa.Table.from_pylist(
        [
            {
                "uscc": r["uscc"],
                "name": r["name"],
                "licence_no": f"{r['uscc']}-{rng.randrange(1, 9)}-{i:06d}",
                "issuer": "重庆市市场监督管理局",
                "issue_date": r["established"],
                "status": r["status"],
            }
            for i, r in enumerate(cq_rows)
        ],
        schema=pa.schema(
            [
                ("uscc", pa.string()),
                ("name", pa.string()),
                ("licence_no", pa.string()),
                ("issuer", pa.string()),
                ("issue_date", pa.date32()),
                ("status", pa.string()),
            ]
        ),
    )
    return DemoData(
        enterprises=pa.Table.from_pylist(sc_rows, schema=ENTERPRISE_SCHEMA),
        traffic=_traffic(rng, day),
        licences=licences,
        beds=_beds(rng, day),
        parcels=_parcels(rng, 600),
        day=day,
    )
