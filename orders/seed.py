"""The seeded skills and service categories: the five public ones of the three-orders model, and everyday help.

Used by a data migration, so it must stay importable without app models.
"""

SKILLS = [
    ("law", "法律政策", "Law and policy"),
    ("outreach", "宣傳走訪", "Outreach and visits"),
    ("social-work", "社會工作", "Social work"),
    ("mediation", "調解", "Mediation"),
    ("elderly-care", "養老陪伴", "Elderly care"),
    ("errands", "跑腿代辦", "Errands"),
    ("repair", "家居維修", "Home repair"),
    ("electrical", "水電", "Plumbing and electrics"),
    ("medical", "醫護", "Medical"),
    ("driving", "駕駛", "Driving"),
    ("tutoring", "輔導教學", "Tutoring"),
    ("digital", "數字技能", "Digital skills"),
    ("cleaning", "清潔環保", "Cleaning"),
]

# code, name, English name, group, skills, max hours credited
CATEGORIES = [
    ("policy", "政策法規宣傳", "Policy and law publicity", "public", ["law", "outreach"], 3),
    ("opinion", "社情民意收集", "Public-opinion collection", "public", ["outreach"], 3),
    ("needy", "扶弱幫困救濟", "Help for the weak and needy", "public", ["social-work", "errands"], 4),
    ("mediation", "矛盾糾紛化解", "Dispute mediation", "public", ["mediation", "law"], 4),
    ("civility", "文明新風倡導", "Civility promotion", "public", ["outreach"], 3),
    ("elderly", "養老陪伴", "Elderly care and companionship", "everyday", ["elderly-care"], 4),
    ("errands", "跑腿代購", "Errands and shopping", "everyday", ["errands"], 2),
    ("repair", "家居維修", "Home repairs", "everyday", ["repair", "electrical"], 4),
    ("medical", "就醫陪診", "Health and medical escort", "everyday", ["medical", "driving"], 6),
    ("tutoring", "課業輔導", "Tutoring", "everyday", ["tutoring"], 3),
    ("digital", "數字助老", "Digital help", "everyday", ["digital"], 2),
    ("cleaning", "清潔環境", "Cleaning and environment", "everyday", ["cleaning"], 3),
]

# The seeded names in each script: (Simplified, Traditional). The names above are the
# Traditional ones the seed was first written in; each reader sees one script
# (`core.names.local_name`), English readers the English name.
SKILL_NAMES = {
    "law": ("法律政策", "法律政策"),
    "outreach": ("宣传走访", "宣傳走訪"),
    "social-work": ("社会工作", "社會工作"),
    "mediation": ("调解", "調解"),
    "elderly-care": ("养老陪伴", "養老陪伴"),
    "errands": ("跑腿代办", "跑腿代辦"),
    "repair": ("家居维修", "家居維修"),
    "electrical": ("水电", "水電"),
    "medical": ("医护", "醫護"),
    "driving": ("驾驶", "駕駛"),
    "tutoring": ("辅导教学", "輔導教學"),
    "digital": ("数字技能", "數字技能"),
    "cleaning": ("清洁环保", "清潔環保"),
}
CATEGORY_NAMES = {
    "policy": ("政策法规宣传", "政策法規宣傳"),
    "opinion": ("社情民意收集", "社情民意收集"),
    "needy": ("扶弱帮困救济", "扶弱幫困救濟"),
    "mediation": ("矛盾纠纷化解", "矛盾糾紛化解"),
    "civility": ("文明新风倡导", "文明新風倡導"),
    "elderly": ("养老陪伴", "養老陪伴"),
    "errands": ("跑腿代购", "跑腿代購"),
    "repair": ("家居维修", "家居維修"),
    "medical": ("就医陪诊", "就醫陪診"),
    "tutoring": ("课业辅导", "課業輔導"),
    "digital": ("数字助老", "數字助老"),
    "cleaning": ("清洁环境", "清潔環境"),
}


def name_fields(model, names: tuple[str, str]) -> dict[str, str]:
    """The per-script name fields for `model`, where it has them (older migrations' models do not)."""
    have = {f.name for f in model._meta.get_fields()}
    hans, hant = names
    return {k: v for k, v in (("name_zh_hans", hans), ("name_zh_hant", hant)) if k in have}
