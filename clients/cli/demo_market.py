"""The cast of ``bashu demo``: who takes part, what they list, and what they ask for.

Pure data and descriptor builders (no I/O): :data:`PARTIES` (every party of every
region, by a short alias), :data:`PRODUCTS` (the five listings, each naming the
table of :mod:`clients.cli.demo_data` it serves) and :data:`LICENCE_STORIES` (the
licence requests of the day and the decision each one should get).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bashu.catalog.v1 import catalog_pb2
from bashu.common.v1 import common_pb2
from google.protobuf import duration_pb2

__all__ = [
    "CROSS_REGION_STORIES",
    "LICENCE_STORIES",
    "PARTIES",
    "PRODUCTS",
    "REGIONS",
    "LicenceStory",
    "PartySpec",
    "ProductSpec",
    "descriptor",
]

REGIONS = {"sc": "Sichuan", "cq": "Chongqing", "sg": "Singapore"}


@dataclass(frozen=True)
class PartySpec:
    alias: str
    region: str
    name: str
    roles: str


PARTIES = [
    PartySpec("sc-amr", "sc", "Sichuan Administration for Market Regulation", "provider"),
    PartySpec("sc-transport", "sc", "Sichuan Department of Transport", "provider"),
    PartySpec("sc-credit", "sc", "Tianfu Credit Services Co.", "consumer"),
    PartySpec("sc-planning", "sc", "Chengdu Urban Planning Institute", "consumer"),
    PartySpec("sc-finance", "sc", "Sichuan Big Data Center, finance", "finance"),
    PartySpec("sc-operator", "sc", "Sichuan Big Data Center, operations", "operator"),
    PartySpec("cq-amr", "cq", "Chongqing Administration for Market Regulation", "provider"),
    PartySpec("cq-health", "cq", "Chongqing Health Commission", "provider"),
    PartySpec("cq-land", "cq", "Chongqing Planning and Natural Resources Bureau", "provider"),
    PartySpec("cq-logistics", "cq", "Liangjiang Logistics Co.", "consumer"),
    PartySpec("cq-bank", "cq", "Chongqing Rural Commercial Bank", "consumer"),
    PartySpec("cq-dispatch", "cq", "Chongqing Emergency Medical Dispatch Centre", "consumer"),
    PartySpec("cq-survey", "cq", "Chongqing Surveying Institute", "consumer"),
    PartySpec("cq-finance", "cq", "Chongqing Big Data Development Bureau, finance", "finance"),
    PartySpec("cq-operator", "cq", "Chongqing Big Data Development Bureau, operations", "operator"),
    PartySpec("sg-tradefin", "sg", "Lion City Trade Finance Pte. Ltd.", "consumer"),
    PartySpec("sg-finance", "sg", "Singapore Trade Data Exchange, finance", "finance"),
    PartySpec("sg-operator", "sg", "Singapore Trade Data Exchange, operations", "operator"),
]

# (name, type, sensitivity, default masking, zh description)
FieldRow = tuple[str, str, str, str, str]


@dataclass(frozen=True)
class ProductSpec:
    product_id: str
    region: str
    provider: str  # party alias
    table: str  # attribute of demo_data.DemoData
    title_zh: str
    title_en: str
    description_zh: str
    category: str
    source_class: str
    grade: str
    pi_class: str
    fields: tuple[FieldRow, ...]
    key_fields: tuple[str, ...]
    modes: tuple[str, ...]
    purposes: tuple[str, ...]
    consumer_regions: tuple[str, ...]
    tariff_unit: str
    tariff_price: str
    purpose_prices: dict[str, str] = field(default_factory=dict)
    cross_border: bool = False
    frequency: str = "DAILY"
    keywords: tuple[str, ...] = ()
    max_validity_days: int = 365
    code_prefix: str = ""


PRODUCTS = [
    ProductSpec(
        "enterprise-registry",
        "sc",
        "sc-amr",
        "enterprises",
        "四川省法人单位基础信息库",
        "Sichuan legal-person (enterprise) registry",
        "全省市场主体登记信息：统一社会信用代码、名称、法定代表人、注册资本、成立日期、"
        "所在区县、行业与登记状态。法定代表人身份证号按默认规则脱敏。",
        "LEGAL_PERSON",
        "GOVERNMENT",
        "GENERAL",
        "SENSITIVE",
        (
            ("uscc", "STRING", "PUBLIC", "NONE", "统一社会信用代码"),
            ("name", "STRING", "PUBLIC", "NONE", "市场主体名称"),
            ("legal_rep", "STRING", "PERSONAL", "NAME", "法定代表人姓名"),
            ("legal_rep_id_no", "STRING", "SENSITIVE_PERSONAL", "ID_NUMBER", "法定代表人身份证号"),
            ("registered_capital_wan", "INT64", "PUBLIC", "NONE", "注册资本（万元）"),
            ("established", "DATE", "PUBLIC", "NONE", "成立日期"),
            ("district", "STRING", "PUBLIC", "NONE", "所在区县"),
            ("industry_code", "STRING", "PUBLIC", "NONE", "国民经济行业代码"),
            ("industry", "STRING", "PUBLIC", "NONE", "行业"),
            ("status", "STRING", "PUBLIC", "NONE", "登记状态"),
        ),
        ("uscc",),
        ("BULK", "LOOKUP"),
        ("COMMERCIAL", "GOVERNMENT_SHARING"),
        ("sc", "cq"),
        "PER_CALL",
        "0.50",
        {"GOVERNMENT_SHARING": "0"},
        keywords=("法人", "企业", "统一社会信用代码", "enterprise"),
        code_prefix="SC-DE02",
    ),
    ProductSpec(
        "road-traffic-counts",
        "sc",
        "sc-transport",
        "traffic",
        "四川省道路交通流量小时统计",
        "Sichuan road traffic counts (hourly)",
        "高速公路与城市主干道观测站分方向、分车型的小时交通量与平均车速。",
        "TRANSPORT",
        "GOVERNMENT",
        "GENERAL",
        "NONE",
        (
            ("station_id", "STRING", "PUBLIC", "NONE", "观测站编号"),
            ("road", "STRING", "PUBLIC", "NONE", "道路"),
            ("district", "STRING", "PUBLIC", "NONE", "所在区县"),
            ("direction", "STRING", "PUBLIC", "NONE", "方向"),
            ("hour_start", "TIMESTAMP", "PUBLIC", "NONE", "统计小时起点"),
            ("passenger_cars", "INT64", "PUBLIC", "NONE", "客车数"),
            ("trucks", "INT64", "PUBLIC", "NONE", "货车数"),
            ("buses", "INT64", "PUBLIC", "NONE", "公交及大客车数"),
            ("avg_speed_kmh", "DOUBLE", "PUBLIC", "NONE", "平均车速（公里/小时）"),
        ),
        (),
        ("BULK",),
        ("COMMERCIAL", "RESEARCH", "PUBLIC_WELFARE"),
        ("sc", "cq"),
        "PER_ROW",
        "0.0020",
        {"PUBLIC_WELFARE": "0", "RESEARCH": "0.0010"},
        frequency="REAL_TIME",
        keywords=("交通", "流量", "高速", "traffic"),
        code_prefix="SC-DE05",
    ),
    ProductSpec(
        "business-licence-verification",
        "cq",
        "cq-amr",
        "licences",
        "重庆市电子营业执照核验",
        "Chongqing electronic business-licence verification",
        "核验电子营业执照的统一社会信用代码、名称、执照编号与状态是否一致；只返回核验结论，不返回数据。",
        "ELECTRONIC_LICENCE",
        "GOVERNMENT",
        "GENERAL",
        "NONE",
        (
            ("uscc", "STRING", "PUBLIC", "NONE", "统一社会信用代码"),
            ("name", "STRING", "PUBLIC", "NONE", "市场主体名称"),
            ("licence_no", "STRING", "INTERNAL", "NONE", "电子营业执照编号"),
            ("issuer", "STRING", "PUBLIC", "NONE", "登记机关"),
            ("issue_date", "DATE", "PUBLIC", "NONE", "发照日期"),
            ("status", "STRING", "PUBLIC", "NONE", "执照状态"),
        ),
        ("uscc",),
        ("VERIFY",),
        ("COMMERCIAL", "GOVERNMENT_SHARING"),
        ("cq", "sc", "sg"),
        "PER_CALL",
        "0.10",
        {"GOVERNMENT_SHARING": "0"},
        cross_border=True,
        keywords=("电子营业执照", "核验", "licence", "KYC"),
        code_prefix="CQ-EL",
    ),
    ProductSpec(
        "hospital-bed-availability",
        "cq",
        "cq-health",
        "beds",
        "重庆市医院床位实时可用情况（匿名化）",
        "Chongqing hospital bed availability (anonymised)",
        "各医院分科室的开放床位、占用与空余床位数，仅含汇总数，不含任何患者信息。",
        "HEALTH",
        "PUBLIC",
        "GENERAL",
        "ANONYMISED",
        (
            ("ward_id", "STRING", "PUBLIC", "NONE", "病区编号"),
            ("hospital", "STRING", "PUBLIC", "NONE", "医院"),
            ("district", "STRING", "PUBLIC", "NONE", "所在区县"),
            ("department", "STRING", "PUBLIC", "NONE", "科室"),
            ("beds_total", "INT64", "PUBLIC", "NONE", "开放床位"),
            ("beds_occupied", "INT64", "INTERNAL", "NONE", "占用床位"),
            ("beds_available", "INT64", "PUBLIC", "NONE", "空余床位"),
            ("as_of", "TIMESTAMP", "PUBLIC", "NONE", "统计时间"),
        ),
        ("ward_id",),
        ("BULK", "LOOKUP"),
        ("PUBLIC_WELFARE", "RESEARCH"),
        ("cq", "sc"),
        "PER_ROW",
        "0.0100",
        {"PUBLIC_WELFARE": "0"},
        frequency="REAL_TIME",
        keywords=("医疗", "床位", "卫健", "hospital"),
        code_prefix="CQ-HE",
    ),
    ProductSpec(
        "land-parcels",
        "cq",
        "cq-land",
        "parcels",
        "重庆市国土空间地块数据",
        "Chongqing land parcels (natural resources)",
        "地块编号、用途分类、面积、权属类型与中心点坐标。属重要数据，使用须经提供方审批。",
        "NATURAL_RESOURCES_GEOGRAPHY",
        "GOVERNMENT",
        "IMPORTANT",
        "NONE",
        (
            ("parcel_id", "STRING", "PUBLIC", "NONE", "地块编号"),
            ("district", "STRING", "PUBLIC", "NONE", "所在区县"),
            ("land_use_code", "STRING", "PUBLIC", "NONE", "用地用海分类代码"),
            ("land_use", "STRING", "PUBLIC", "NONE", "用地用途"),
            ("area_m2", "DOUBLE", "INTERNAL", "NONE", "面积（平方米）"),
            ("centroid_lon", "DOUBLE", "INTERNAL", "NONE", "中心点经度"),
            ("centroid_lat", "DOUBLE", "INTERNAL", "NONE", "中心点纬度"),
            ("tenure", "STRING", "INTERNAL", "NONE", "权属类型"),
        ),
        ("parcel_id",),
        ("BULK", "LOOKUP"),
        ("GOVERNMENT_SHARING", "RESEARCH", "COMMERCIAL"),
        ("cq", "sc"),
        "PER_ROW",
        "0.0500",
        {"GOVERNMENT_SHARING": "0"},
        frequency="MONTHLY",
        keywords=("自然资源", "地块", "国土空间", "parcel"),
        code_prefix="CQ-NR",
    ),
]


def descriptor(spec: ProductSpec, provider: str) -> catalog_pb2.ProductDescriptor:
    """The catalog descriptor of ``spec`` for the provider party ``provider``."""
    return catalog_pb2.ProductDescriptor(
        title=common_pb2.LocalizedText(zh=spec.title_zh, en=spec.title_en),
        description=common_pb2.LocalizedText(zh=spec.description_zh, en=spec.title_en),
        provider=provider,
        region=spec.region,
        category=f"CATEGORY_{spec.category}",
        source_class=f"SOURCE_CLASS_{spec.source_class}",
        data_grade=f"DATA_GRADE_{spec.grade}",
        personal_info_class=f"PERSONAL_INFO_CLASS_{spec.pi_class}",
        fields=[
            catalog_pb2.FieldSpec(
                name=name,
                type=f"FIELD_TYPE_{typ}",
                element_code=f"{spec.code_prefix}.{i + 1:03d}",
                sensitivity=f"FIELD_SENSITIVITY_{sens}",
                description=common_pb2.LocalizedText(zh=zh),
                default_masking=f"MASKING_RULE_{mask}",
            )
            for i, (name, typ, sens, mask, zh) in enumerate(spec.fields)
        ],
        key_fields=list(spec.key_fields),
        access_modes=[f"ACCESS_MODE_{m}" for m in spec.modes],
        allowed_purpose_classes=[f"PURPOSE_CLASS_{p}" for p in spec.purposes],
        allowed_consumer_regions=list(spec.consumer_regions),
        cross_border_allowed=spec.cross_border,
        update_frequency=f"UPDATE_FREQUENCY_{spec.frequency}",
        standard_version=f"{spec.region}-de/2025.1",
        limits=catalog_pb2.LicenceLimits(
            max_validity=duration_pb2.Duration(seconds=spec.max_validity_days * 86400)
        ),
        keywords=list(spec.keywords),
    )


@dataclass(frozen=True)
class LicenceStory:
    """One licence request of the day and what should come of it."""

    label: str
    consumer: str  # party alias
    product: str  # product id
    purpose: str
    scenario: str
    modes: tuple[str, ...]
    expect: str  # GRANT, HOLD (then approved by the provider) or DENY
    reasons: tuple[str, ...] = ()  # reason codes the decision must include
    fields: tuple[str, ...] = ()
    valid_days: int = 90
    quota_calls: int = 0
    # Cross-border terms: (approval kind or "", approval reference or "")
    cross_border: tuple[str, str] | None = None
    description: str = ""

    @property
    def provider_region(self) -> str:
        return next(p.region for p in PRODUCTS if p.product_id == self.product)

    @property
    def consumer_region(self) -> str:
        return next(p.region for p in PARTIES if p.alias == self.consumer)

    @property
    def cross_region(self) -> bool:
        return self.provider_region != self.consumer_region


LICENCE_STORIES = [
    # Within one region: granted at once, held then approved (twice), denied.
    LicenceStory(
        "traffic for planning",
        "sc-planning",
        "road-traffic-counts",
        "RESEARCH",
        "URB-PLAN-02",
        ("BULK",),
        "GRANT",
        description="peak-hour study of the Chengdu ring roads",
    ),
    LicenceStory(
        "registry for credit checks",
        "sc-credit",
        "enterprise-registry",
        "COMMERCIAL",
        "FIN-CREDIT-01",
        ("LOOKUP",),
        "HOLD",
        ("PERSONAL_INFO_NEEDS_APPROVAL", "SENSITIVE_FIELD_MASKED"),
        quota_calls=5000,
        description="know-your-customer checks on loan applicants",
    ),
    LicenceStory(
        "beds for ambulance dispatch",
        "cq-dispatch",
        "hospital-bed-availability",
        "PUBLIC_WELFARE",
        "HEALTH-EMS-01",
        ("BULK", "LOOKUP"),
        "GRANT",
        description="routing ambulances to wards with free beds",
    ),
    LicenceStory(
        "parcels for a survey",
        "cq-survey",
        "land-parcels",
        "RESEARCH",
        "LAND-SURVEY-03",
        ("BULK", "LOOKUP"),
        "HOLD",
        ("IMPORTANT_DATA_NEEDS_APPROVAL",),
        description="third national land survey follow-up",
    ),
    LicenceStory(
        "licence checks for a bank",
        "cq-bank",
        "business-licence-verification",
        "COMMERCIAL",
        "FIN-KYB-01",
        ("VERIFY",),
        "GRANT",
        description="know-your-business checks when opening accounts",
    ),
    LicenceStory(
        "beds for insurance marketing",
        "cq-logistics",
        "hospital-bed-availability",
        "COMMERCIAL",
        "MKT-INS-07",
        ("BULK",),
        "DENY",
        ("PURPOSE_NOT_ALLOWED", "VALIDITY_ABOVE_LIMIT"),
        valid_days=3 * 365,
        description="selling insurance near crowded hospitals",
    ),
]

CROSS_REGION_STORIES = [
    LicenceStory(
        "traffic for logistics (cq → sc)",
        "cq-logistics",
        "road-traffic-counts",
        "COMMERCIAL",
        "LOG-ROUTE-04",
        ("BULK",),
        "GRANT",
        description="routing trucks on the Chengdu–Chongqing corridor",
    ),
    LicenceStory(
        "registry for partners (cq → sc)",
        "cq-logistics",
        "enterprise-registry",
        "COMMERCIAL",
        "FIN-KYB-01",
        ("LOOKUP",),
        "HOLD",
        ("PERSONAL_INFO_NEEDS_APPROVAL",),
        quota_calls=2000,
        description="checking Sichuan suppliers before contracting",
    ),
    LicenceStory(
        "licence checks for credit (sc → cq)",
        "sc-credit",
        "business-licence-verification",
        "COMMERCIAL",
        "FIN-KYB-01",
        ("VERIFY",),
        "GRANT",
        description="verifying Chongqing borrowers' business licences",
    ),
    LicenceStory(
        "cross-border checks without approval (sg → cq)",
        "sg-tradefin",
        "business-licence-verification",
        "COMMERCIAL",
        "TRADE-FIN-02",
        ("VERIFY",),
        "DENY",
        ("CROSS_BORDER_APPROVAL_MISSING",),
        cross_border=("", ""),
        description="trade finance for Chongqing exporters, no filing yet",
    ),
    LicenceStory(
        "cross-border checks with a filed contract (sg → cq)",
        "sg-tradefin",
        "business-licence-verification",
        "COMMERCIAL",
        "TRADE-FIN-02",
        ("VERIFY",),
        "GRANT",
        cross_border=("STANDARD_CONTRACT", "渝网信出境备〔2026〕0417号"),
        description="the same, after filing the standard contract",
    ),
]
