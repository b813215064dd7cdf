"""A small CRUD service: pydantic models (nested, lists), POST/GET/PUT/
PATCH with a partial model and exclude_unset, DELETE 204, 404 through
HTTPException, the store given by Depends."""

from typing import Optional

from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel, Field


class Dimensions(BaseModel):
    width: float = Field(gt=0)
    height: float = Field(gt=0)


class ProductIn(BaseModel):
    name: str = Field(min_length=1)
    price: float = Field(ge=0)
    tags: list[str] = []
    dims: Optional[Dimensions] = None


class ProductPatch(BaseModel):
    name: Optional[str] = Field(None, min_length=1)
    price: Optional[float] = Field(None, ge=0)
    tags: Optional[list[str]] = None
    dims: Optional[Dimensions] = None


class Product(ProductIn):
    id: int


class Store:
    def __init__(self):
        self.rows = {}
        self.next_id = 1


STORE = Store()


def get_store():
    return STORE


def existing(product_id: int, store: Store = Depends(get_store)) -> dict:
    row = store.rows.get(product_id)
    if row is None:
        raise HTTPException(status_code=404, detail="Product not found")
    return row


app = FastAPI()


@app.post("/products", status_code=201, response_model=Product)
def create(product: ProductIn, store: Store = Depends(get_store)):
    row = {"id": store.next_id, **product.model_dump()}
    store.rows[store.next_id] = row
    store.next_id += 1
    return row


@app.post("/products/bulk", status_code=201, response_model=list[Product])
def create_many(products: list[ProductIn], store: Store = Depends(get_store)):
    out = []
    for p in products:
        row = {"id": store.next_id, **p.model_dump()}
        store.rows[store.next_id] = row
        store.next_id += 1
        out.append(row)
    return out


@app.get("/products", response_model=list[Product])
def list_products(skip: int = 0, limit: int = 10, store: Store = Depends(get_store)):
    return list(store.rows.values())[skip:skip + limit]


@app.get("/products/{product_id}", response_model=Product)
def read(row: dict = Depends(existing)):
    return row


@app.put("/products/{product_id}", response_model=Product)
def replace(product_id: int, product: ProductIn, row: dict = Depends(existing)):
    row.update(product.model_dump())
    return row


@app.patch("/products/{product_id}", response_model=Product)
def patch(product_id: int, changes: ProductPatch, row: dict = Depends(existing)):
    row.update(changes.model_dump(exclude_unset=True))
    return row


@app.delete("/products/{product_id}", status_code=204)
def delete(product_id: int, store: Store = Depends(get_store)):
    if store.rows.pop(product_id, None) is None:
        raise HTTPException(status_code=404, detail="Product not found")
