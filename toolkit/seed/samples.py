"""The fixed content of the sample tenants, kept apart from the code that loads it."""

from __future__ import annotations

from dataclasses import dataclass

from models import OrderPlatform, SubscriptionStatus, TenantUserRole, UserRole

# The password of every sample admin. Sample data only: documented in the README.
DEMO_PASSWORD = "tenantctl-demo"  # noqa: S105
# Written to the audit columns (created_by/updated_by) of the sample rows.
SEED_ACTOR = "tenantctl seed"
API_KEY_SCOPES = ("designs:read", "templates:read", "mockups:write", "orders:read")


@dataclass(frozen=True)
class _Person:
    name: str
    email_local: str
    role: TenantUserRole | UserRole


@dataclass(frozen=True)
class _Product:
    title: str
    description: str
    tags: tuple[str, ...]
    materials: tuple[str, ...]
    price: str
    section: str


@dataclass(frozen=True)
class _Canvas:
    name: str
    product_type: str
    width: int
    height: int
    sizes: tuple[tuple[str, int, int, str], ...]  # label, width, height, price modifier


@dataclass(frozen=True)
class SampleTenant:
    """The fixed content of one sample tenant."""

    subdomain: str
    company_name: str
    plan: str
    seats: int
    subscription_status: SubscriptionStatus
    admins: tuple[_Person, ...]
    users: tuple[_Person, ...]
    products: tuple[_Product, ...]
    designs: tuple[str, ...]
    canvases: tuple[_Canvas, ...]
    platforms: tuple[OrderPlatform, OrderPlatform]
    buyers: tuple[str, ...]

    @property
    def email_domain(self) -> str:
        """Sample addresses use the reserved ``.example`` top-level domain."""
        return f"{self.subdomain}.example"

    def email(self, person: _Person) -> str:
        """The address of one of this tenant's sample people."""
        return f"{person.email_local}@{self.email_domain}"


SAMPLE_TENANTS: tuple[SampleTenant, ...] = (
    SampleTenant(
        subdomain="acme",
        company_name="Acme Print Co.",
        plan="pro",
        seats=3,
        subscription_status=SubscriptionStatus.ACTIVE,
        admins=(
            _Person("Maria Lopez", "maria", TenantUserRole.OWNER),
            _Person("Tom Becker", "tom", TenantUserRole.ADMIN),
        ),
        users=(
            _Person("Maria Lopez", "maria", UserRole.OWNER),
            _Person("Jun Park", "jun", UserRole.DESIGNER),
            _Person("Ines Duarte", "ines", UserRole.DESIGNER),
            _Person("Sam Reed", "sam", UserRole.VIEWER),
        ),
        products=(
            _Product(
                "Retro National Park Poster - Yosemite Wall Art",
                "Vintage travel poster printed on heavyweight matte paper.",
                ("travel poster", "yosemite", "retro wall art", "national park"),
                ("matte paper", "archival ink"),
                "24.00",
                "Posters",
            ),
            _Product(
                "Mountain Sunrise Ceramic Mug 11oz",
                "Dishwasher-safe ceramic mug with a wraparound print.",
                ("coffee mug", "mountain gift", "hiker gift"),
                ("ceramic",),
                "16.50",
                "Mugs",
            ),
            _Product(
                "Minimalist Wave Art Print",
                "Giclee print of a hand-drawn ocean wave, unframed.",
                ("wave print", "minimalist art", "beach decor"),
                ("fine art paper",),
                "19.00",
                "Posters",
            ),
        ),
        designs=("yosemite-retro", "mountain-sunrise", "wave-lines"),
        canvases=(
            _Canvas(
                "Poster portrait",
                "poster",
                5400,
                7200,
                (("12x16", 3600, 4800, "0.00"), ("18x24", 5400, 7200, "8.00")),
            ),
            _Canvas("Mug wrap 11oz", "mug", 2700, 1100, (("11oz", 2700, 1100, "0.00"),)),
        ),
        platforms=(OrderPlatform.ETSY, OrderPlatform.SHOPIFY),
        buyers=("Olivia Grant", "Noah Fischer", "Emma Rossi", "Liam O'Neil"),
    ),
    SampleTenant(
        subdomain="globex",
        company_name="Globex Apparel Studio",
        plan="business",
        seats=10,
        subscription_status=SubscriptionStatus.TRIALING,
        admins=(
            _Person("Hank Scorpio", "hank", TenantUserRole.OWNER),
            _Person("Karen Holt", "karen", TenantUserRole.ADMIN),
        ),
        users=(
            _Person("Hank Scorpio", "hank", UserRole.OWNER),
            _Person("Priya Nair", "priya", UserRole.DESIGNER),
            _Person("Diego Alvarez", "diego", UserRole.DESIGNER),
            _Person("Lena Vogel", "lena", UserRole.VIEWER),
        ),
        products=(
            _Product(
                "Cat Astronaut Graphic Tee - Unisex",
                "Soft cotton t-shirt with a front print of a cat in space.",
                ("cat shirt", "space tee", "funny cat gift"),
                ("cotton",),
                "22.00",
                "T-Shirts",
            ),
            _Product(
                "Retro Sunset Tote Bag",
                "Heavy canvas tote with a 70s sunset print.",
                ("tote bag", "retro sunset", "beach bag"),
                ("canvas",),
                "18.00",
                "Bags",
            ),
            _Product(
                "Botanical Line Art Hoodie",
                "Midweight fleece hoodie, botanical line drawing on the chest.",
                ("botanical hoodie", "plant lover gift", "line art"),
                ("cotton", "polyester"),
                "42.00",
                "Hoodies",
            ),
        ),
        designs=("cat-astronaut", "botanical-lines", "retro-sunset"),
        canvases=(
            _Canvas(
                "T-shirt front",
                "t-shirt",
                4500,
                5400,
                (("S", 3600, 4320, "0.00"), ("M", 4050, 4860, "0.00"), ("XL", 4500, 5400, "3.00")),
            ),
            _Canvas("Tote front", "tote", 3900, 3900, (("one size", 3900, 3900, "0.00"),)),
        ),
        platforms=(OrderPlatform.ETSY, OrderPlatform.WOOCOMMERCE),
        buyers=("Ava Thompson", "Lucas Martin", "Mia Svensson", "Ethan Cole"),
    ),
    SampleTenant(
        subdomain="initech",
        company_name="Initech Paper Goods",
        plan="free",
        seats=1,
        subscription_status=SubscriptionStatus.ACTIVE,
        admins=(
            _Person("Peter Gibbons", "peter", TenantUserRole.OWNER),
            _Person("Joanna Sands", "joanna", TenantUserRole.ADMIN),
        ),
        users=(
            _Person("Peter Gibbons", "peter", UserRole.OWNER),
            _Person("Milton Waddams", "milton", UserRole.DESIGNER),
            _Person("Samir Nagheenanajar", "samir", UserRole.VIEWER),
        ),
        products=(
            _Product(
                "Kawaii Planner Sticker Sheet",
                "Matte vinyl sticker sheet for planners and journals.",
                ("planner stickers", "kawaii", "bullet journal"),
                ("vinyl",),
                "4.50",
                "Stickers",
            ),
            _Product(
                "Dot Grid Notebook A5 - Wildflowers",
                "A5 notebook, 120 dot grid pages, printed soft cover.",
                ("dot grid notebook", "wildflower journal", "a5 notebook"),
                ("paper", "card stock"),
                "12.00",
                "Notebooks",
            ),
        ),
        designs=("kawaii-planner", "wildflowers", "red-stapler"),
        canvases=(
            _Canvas(
                "Sticker sheet",
                "sticker",
                1500,
                2100,
                (("A6", 1240, 1748, "0.00"), ("A5", 1748, 2480, "1.50")),
            ),
            _Canvas("Notebook cover A5", "notebook", 1748, 2480, (("A5", 1748, 2480, "0.00"),)),
        ),
        platforms=(OrderPlatform.ETSY, OrderPlatform.SHOPIFY),
        buyers=("Grace Kim", "Oscar Nilsson", "Chloe Dubois"),
    ),
)
