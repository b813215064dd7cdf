"""What the OpenAPI schema documents: the decorator metadata options
(tags, summary, description, deprecated, include_in_schema, responses,
operation_id, response_description), routers' and include_router's tags,
response models with nested models and enums, Optional, list query
parameters, parameters' documentation, and the app's info, tags and
servers."""

from decimal import Decimal
from enum import Enum
from typing import Annotated, Optional

from fastapi import APIRouter, Cookie, FastAPI, Header, HTTPException, Path, Query
from pydantic import BaseModel, Field


class Color(str, Enum):
    red = "red"
    green = "green"


class Size(int, Enum):
    small = 1
    large = 2


class Dimensions(BaseModel):
    """Outer measurements.

    \fNot documented: after the form feed."""
    width: float = Field(gt=0, description="in cm")
    height: float = 1.0


class Product(BaseModel):
    name: str = Field(min_length=1, examples=["cup"])
    color: Color = Color.red
    size: Optional[Size] = None
    dims: Optional[Dimensions] = None
    tags: list[str] = []
    price: Decimal = Decimal("1.5")


class ProductOut(BaseModel):
    id: int
    product: Product
    related: list[Product] = []


class Message(BaseModel):
    detail: str


app = FastAPI(
    title="Shop",
    version="2.1.0",
    description="A **shop**.",
    summary="Things for sale",
    openapi_tags=[{"name": "products", "description": "What is sold"},
                  {"name": "admin", "externalDocs": {"url": "https://example.com/admin"}}],
    servers=[{"url": "https://shop.example.com", "description": "production"}],
)

PRODUCTS = {1: Product(name="cup", color=Color.green, dims=Dimensions(width=8))}


@app.get("/products/{product_id}", response_model=ProductOut, tags=["products"],
         responses={404: {"model": Message, "description": "No such product"},
                    418: {"description": "A teapot"}})
def get_product(product_id: Annotated[int, Path(ge=1, description="The product's id")],
                color: Annotated[Optional[Color], Query()] = None):
    """Reads one product.

    Its related products come along.
    \fThis part is for the code's readers only."""
    if product_id not in PRODUCTS:
        raise HTTPException(status_code=404, detail="no such product")
    return {"id": product_id, "product": PRODUCTS[product_id]}


@app.post("/products", status_code=201, tags=["products"], summary="Make a product",
          description="Adds it to the shop.", response_description="The product made",
          operation_id="makeProduct")
def create_product(product: Product) -> ProductOut:
    return ProductOut(id=2, product=product)


@app.get("/search", tags=["products"])
def search(q: Annotated[list[str], Query(description="words", examples=[["a", "b"]])] = [],
           size: Annotated[list[Size], Query()] = [],
           limit: Annotated[Optional[int], Query(le=50, title="How many")] = None,
           old: Annotated[Optional[str], Query(deprecated=True)] = None,
           secret: Annotated[Optional[str], Query(include_in_schema=False)] = None):
    return {"q": q, "size": size, "limit": limit, "old": old, "secret": secret}


@app.get("/legacy", deprecated=True, tags=["products", "legacy"])
def legacy():
    return {"legacy": True}


@app.get("/hidden", include_in_schema=False)
def hidden():
    return {"hidden": True}


@app.delete("/products/{product_id}", status_code=204, tags=["products"],
            responses={"4XX": {"model": Message}, "default": {"description": "Anything else"}})
def delete_product(product_id: int):
    return None


@app.put("/products/{product_id}/price", name="set_price",
         responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}})
async def put_price(product_id: int, product: Product,
                    x_request_id: Annotated[Optional[str], Header(description="for the logs")]
                    = None,
                    session: Annotated[Optional[str], Cookie(deprecated=True)] = None) -> Product:
    return product


admin = APIRouter(prefix="/admin", tags=["admin"],
                  responses={403: {"model": Message, "description": "Not an admin"}})


@admin.get("/stats", tags=["stats"], summary="Counters")
def stats() -> dict[str, int]:
    return {"products": len(PRODUCTS)}


@admin.post("/reset", deprecated=True, responses={403: {"description": "Really not"}})
def reset(confirm: bool = False):
    return {"reset": confirm}


inner = APIRouter(tags=["inner"])


@inner.get("/inner/{name}")
def inner_route(name: str) -> list[Optional[Color]]:
    return [Color.red, None]


admin.include_router(inner, tags=["nested"])
app.include_router(admin, tags=["included"])
app.include_router(inner, prefix="/v2", tags=["v2"])
